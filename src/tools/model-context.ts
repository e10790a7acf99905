/**
 * What the triage tool needs beyond the ToolContext (issue 13): the slide's
 * model runs and predictions, which loaded objects are predictions, a way to
 * accept predictions as they are (a corrected object with no change, sent
 * through the outbox), and flying the view to an object at a magnification.
 * The viewer's tool host implements it from the session and OpenSeadragon.
 */
import type { ModelRunApi, Prediction } from '../services/model-run-api.js';
import type { ModelProvenance } from '../state/model-provenance.js';

export interface ModelContext {
  api: ModelRunApi;
  provenance: ModelProvenance;
  /** A run's predictions as the model made them, from what the session loaded where it can (absent: `api.predictions`). */
  predictions?(runId: string): Promise<Prediction[]>;
  /** Queues the acceptance of these predictions (those nobody acted on here) as one outbox entry; returns how many were queued. */
  accept(predictionIds: readonly string[], label: string): number;
  /** Centres the view on a level-0 point at `magnification` (null: keep the zoom). */
  flyTo(x: number, y: number, magnification: number | null): void;
  /** The magnification now (null: the slide is not calibrated). */
  magnification(): number | null;
  /** How saving goes: decisions not yet on the server and why (offline, a conflict, an ended session). */
  saving(): { status: string; queued: number; message: string | null };
  /** Where the corrections report page of a run is. */
  reportPage(runId: string): string;
}
