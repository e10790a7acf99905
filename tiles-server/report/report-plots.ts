/**
 * The regulatory report's agreement figures as static SVG, drawn on the
 * server: the report is served with a policy that runs no script and loads
 * no style sheet, and Chromium prints it to PDF as it is, so the figures
 * must be in the HTML already. Observable Plot (src/core/agreement/
 * agreement-plots.ts, the viewer's figures too) builds them in a
 * server-side document (linkedom), serialized without Plot's <style>.
 */
import { parseHTML } from 'linkedom';
import { classFigure, figureSvg, matrixFigure } from '../../src/core/agreement/agreement-plots.js';
import type { AgreementFigureData, ClassMetric, MatrixMetric } from '../../src/core/agreement/agreement-figure-data.js';

let doc: unknown = null;

function serverDocument(): unknown {
  doc ??= parseHTML('<!doctype html><html><body></body></html>').document;
  return doc;
}

/** The per-class figure as SVG markup, or '' when there is no class. */
export function classFigureSvg(d: AgreementFigureData, metric: ClassMetric = 'dice'): string {
  const fig = classFigure(d, metric, serverDocument(), 540);
  return fig ? figureSvg(fig) : '';
}

/** The reader × reader heat map as SVG markup, or '' with fewer than two readers. */
export function matrixFigureSvg(d: AgreementFigureData, metric: MatrixMetric = 'kappa'): string {
  const fig = matrixFigure(d, metric, serverDocument(), 540);
  return fig ? figureSvg(fig) : '';
}
