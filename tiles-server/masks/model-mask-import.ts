/**
 * One AI-mask import into a model run (issue 13), run in a child process of
 * its own (model-mask-process.ts) like any label-image import: decode the
 * label image, or the probability maps into one (probability-maps.ts), check
 * that it covers the slide at the given downsample, then write it onto the
 * run's read-only layer `@model:<run>` with the label-import path
 * (label-import.ts: values must be class ids of the palette) — and, in the
 * same transaction, mark the run imported and record its mask. All or
 * nothing: a run that got another file meanwhile undoes the write.
 */
import { WsiError } from '../../src/core/errors.js';
import type { AnnotationStore } from '../store/annotation-store.js';
import type { MaskStore, OperationResult } from '../store/mask-store.js';
import type { ModelMaskStore } from '../store/model-masks.js';
import type { ModelRunStore } from '../store/model-runs.js';
import { decodeLabelImage } from './label-image.js';
import { writeLabelImage, type LabelJob } from './label-import.js';
import { labelsFromProbabilities, type ProbabilityMap } from './probability-maps.js';

export interface ModelMaskJob extends LabelJob {
  runId: string;
  form: 'label-image' | 'probability-maps';
  /** Probability maps (form probability-maps); `path` is unused then. */
  maps: ProbabilityMap[];
  minProbability: number | null;
  /** The image size that covers the slide at this downsample. */
  expect: { width: number; height: number };
}

/** The image size a model mask of the slide has at `downsample`: every level-0 pixel covered, none past the edge by a whole image pixel. */
export function expectedSize(slide: { width: number; height: number }, downsample: number): { width: number; height: number } {
  return { width: Math.ceil(slide.width / downsample), height: Math.ceil(slide.height / downsample) };
}

export function sizeMismatch(got: { width: number; height: number }, expect: { width: number; height: number }, downsample: number, slide: { width: number; height: number }): WsiError {
  return new WsiError(
    'MODEL_MASK_SIZE_MISMATCH',
    `the mask is ${got.width} × ${got.height} pixels; a model mask covers the whole slide (${slide.width} × ${slide.height} px), so at downsample ${downsample} it is ${expect.width} × ${expect.height}. Nothing was imported.`,
    { width: got.width, height: got.height, expected: expect, downsample },
  );
}

export async function importModelMask(store: MaskStore, classes: AnnotationStore, runs: ModelRunStore, masks: ModelMaskStore, job: ModelMaskJob): Promise<OperationResult> {
  const img = job.form === 'label-image' ? await decodeLabelImage(job.path, job.maxPixels) : await labelsFromProbabilities(job.maps, job.maxPixels, job.minProbability ?? 0);
  if (img.width !== job.expect.width || img.height !== job.expect.height) throw sizeMismatch(img, job.expect, job.downsample, job.slide);
  return writeLabelImage(store, classes, job, img, (at, written) => {
    if (!runs.markImported(job.runId, job.form, job.opId, 0, job.author)) {
      throw new WsiError('MODEL_RUN_HAS_PREDICTIONS', `model run ${job.runId} got its output from another import meanwhile; create a new run for this mask`);
    }
    masks.add({
      runId: job.runId,
      slideId: job.slide.id,
      form: job.form,
      downsample: job.downsample,
      minProbability: job.minProbability,
      image: { width: img.width, height: img.height },
      pixels: written.pixels,
      opId: job.opId,
      createdBy: job.author,
      createdAt: at,
    });
    return { run: job.runId, layer: job.annotator, form: job.form, downsample: job.downsample, minProbability: job.minProbability };
  });
}
