/**
 * What uses a class on a project's slides: the answer of
 * GET /api/projects/{id}/classes/usage, which the server builds
 * (tiles-server/http/palette-routes.ts) and the palette editor reads
 * (src/ui/palette-editor.ts) before a class is removed or renamed.
 */
export interface ClassUse {
  name: string;
  /** Its mask id (null: never given one). */
  id: number | null;
  inPalette: boolean;
  objects: number;
  labelledPx: number;
  /** Slides with an object or a labelled pixel of the class. */
  slides: number;
}
