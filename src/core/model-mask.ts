/**
 * The mask layer of a model run (issue 13, AI masks): a model's mask is
 * kept as a mask layer of its own under the reserved annotator
 * `@model:<run id>` — no account has such an id (account ids are UUIDs or
 * `legacy:…`), so it is never anyone's own work, and painting it is refused
 * (MODEL_MASK_READ_ONLY). One home for the name, shared by the server and
 * the viewer (which shows it read-only and leaves it out of the readers).
 */

export const MODEL_MASK_PREFIX = '@model:';

const RUN_ID = /^[A-Za-z0-9-]{8,64}$/;

/** The annotator id of a model run's mask layer. */
export function modelMaskAnnotator(runId: string): string {
  return `${MODEL_MASK_PREFIX}${runId}`;
}

/** The run whose mask layer `annotator` is, or null for any other annotator. */
export function modelRunOfAnnotator(annotator: string): string | null {
  if (!annotator.startsWith(MODEL_MASK_PREFIX)) return null;
  const run = annotator.slice(MODEL_MASK_PREFIX.length);
  return RUN_ID.test(run) ? run : null;
}

export function isModelMaskAnnotator(annotator: string): boolean {
  return modelRunOfAnnotator(annotator) !== null;
}
