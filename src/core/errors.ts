/**
 * Error codes shared by the tiles-server and the browser. Every failure the
 * server reports is one of these codes plus a human message; the HTTP status
 * comes from this table only, so routes never pick statuses ad hoc.
 */
export const ERROR_STATUS = {
  // Request problems
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  SLIDE_NOT_FOUND: 404,
  TILE_OUT_OF_RANGE: 404,
  METHOD_NOT_ALLOWED: 405,
  NOT_ACCEPTABLE: 406,
  REGION_TOO_LARGE: 422,
  INVALID_ANNOTATION: 400,
  OPERATION_ID_REQUIRED: 400,
  ANNOTATION_NOT_FOUND: 404,
  ANNOTATION_EXISTS: 409,
  ANNOTATION_DELETED: 409,
  PRECONDITION_FAILED: 412,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  IDEMPOTENCY_KEY_REUSED: 422,
  IMPORT_INVALID: 422,
  IMPORT_NOT_FOUND: 404,
  IMPORT_CANCELLED: 409,
  IMPORT_FINISHED: 409,
  IMAGE_TOO_LARGE: 413,
  PRECONDITION_REQUIRED: 428,
  FORBIDDEN: 403,
  UNAUTHENTICATED: 401,
  SIGN_IN_FAILED: 401,
  TOTP_REQUIRED: 401,
  CSRF_FAILED: 403,
  TOO_MANY_ATTEMPTS: 429,
  WEAK_PASSWORD: 400,
  USER_EXISTS: 409,
  CONFLICT: 409,
  USER_NOT_FOUND: 404,
  INVALID_MASK: 400,
  CLASS_IDS_EXHAUSTED: 409,
  PALETTE_INVALID: 400,
  PALETTE_DUPLICATE_NAME: 400,
  PALETTE_DUPLICATE_HOTKEY: 400,
  PALETTE_BAD_COLOR: 400,
  PALETTE_TOO_LARGE: 400,
  HOST_NOT_ALLOWED: 421,
  MODEL_RUN_NOT_FOUND: 404,
  MODEL_RUN_INVALID: 400,
  MODEL_RUN_HAS_PREDICTIONS: 409,
  MODEL_OBJECT_READ_ONLY: 409,
  PREDICTION_NOT_FOUND: 404,
  CHECKED_AREA_NOT_FOUND: 404,
  /** AI masks of model runs (issue 13): the model's layer is read-only; its image must fit the slide; one import per run at a time. */
  MODEL_MASK_READ_ONLY: 409,
  MODEL_MASK_SIZE_MISMATCH: 422,
  MODEL_MASK_CLASSES: 400,
  MODEL_MASK_IMPORT_IN_PROGRESS: 409,
  MODEL_MASK_NOT_FOUND: 404,
  MODEL_MASK_LAYER_NOT_EMPTY: 409,
  /** A binary columnar annotation frame (src/core/columnar-pages.ts) that is truncated, of another version or inconsistent. */
  COLUMNAR_INVALID: 422,
  /** Reviews (issue 14). */
  REVIEW_NOT_FOUND: 404,
  REVIEW_LOCKED: 409,
  REVIEW_ILLEGAL_TRANSITION: 409,
  REVIEW_SELF_REVIEW: 403,
  REVIEW_NOT_EXPERT: 403,
  REVIEW_SAME_REVIEWER: 403,
  REVIEW_REASON_REQUIRED: 400,
  REVIEW_REASON_UNKNOWN: 400,
  REVIEW_COMMENT_REQUIRED: 400,
  READING_NOT_FOUND: 404,
  /** Consensus into the reference mask (issue 14). */
  CONSENSUS_METHOD_UNKNOWN: 400,
  CONSENSUS_NEEDS_READERS: 400,
  CONSENSUS_NOT_SUBMITTED: 409,
  CONSENSUS_IN_PROGRESS: 409,

  // Slide files
  NOT_A_TIFF: 415,
  UNSUPPORTED_FORMAT: 415,
  UNSUPPORTED_COMPRESSION: 415,
  UNSUPPORTED_PIXEL_FORMAT: 415,
  TIFF_BAD_HEADER: 422,
  TIFF_BAD_OFFSET: 422,
  TIFF_IFD_LOOP: 422,
  TIFF_TOO_MANY_ENTRIES: 422,
  TIFF_TOO_MANY_IFDS: 422,
  TIFF_VALUE_TOO_LARGE: 422,
  TIFF_BAD_FIELD: 422,
  TIFF_MISSING_TAG: 422,
  TIFF_BAD_DIMENSIONS: 422,
  TIFF_BAD_TILE_TABLE: 422,
  TIFF_BAD_JPEG_TABLES: 422,
  TIFF_TRUNCATED: 422,
  TILE_TOO_LARGE: 422,
  TILE_DECODE_OVERFLOW: 422,
  TILE_DECODE_ERROR: 422,
  BAD_PYRAMID: 422,
  OME_XML_INVALID: 422,
  QPTIFF_XML_INVALID: 422,
  NO_PYRAMID_LEVELS: 422,
  SLIDE_OUTSIDE_FOLDER: 403,
  DICOM_NOT_WSI: 415,
  DICOM_INVALID: 422,
  DICOM_TRUNCATED: 422,
  DICOM_MISSING_ATTRIBUTE: 422,
  DICOM_BAD_ATTRIBUTE: 422,
  DICOM_BAD_FRAME_TABLE: 422,
  DICOM_BAD_FRAME_COUNT: 422,
  DICOM_BAD_FRAME_POSITION: 422,
  DICOM_INCONSISTENT_SERIES: 422,

  // De-identification (tiles-server/deid)
  DEID_RULES_INVALID: 400,
  DEID_UNSUPPORTED_FORMAT: 415,
  DEID_UNCOVERED_FIELD: 422,
  DEID_AMBIGUOUS_ASSOCIATED_IMAGE: 422,
  DEID_VERIFY_FAILED: 422,
  DEID_OUTPUT_EXISTS: 409,
  DEID_DISK_FULL: 507,
  DEID_JOB_NOT_FOUND: 404,
  DEID_JOB_STATE: 409,

  // Server state
  INTERNAL: 500,
  OVERLOADED: 503,
  DECODE_TIMEOUT: 503,
  DECODER_CRASHED: 503,
  STORAGE_UNAVAILABLE: 503,
  SLIDE_CHANGED: 503,
  STORE_BUSY: 503,
  STORE_DAMAGED: 503,
  STORE_FULL: 507,
  /** Class merge and rename (issue 11). */
  CLASS_NOT_FOUND: 404,
  CLASS_RELABEL_CONFLICT: 409,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface Problem {
  code: ErrorCode;
  message: string;
  detail?: Record<string, unknown>;
}

/**
 * An expected failure with a code. `name` carries the code so the kind
 * survives structured cloning (comlink and worker_threads keep name/message).
 */
export class WsiError extends Error {
  readonly code: ErrorCode;
  readonly detail: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, detail?: Record<string, unknown>) {
    super(message);
    this.name = `WsiError:${code}`;
    this.code = code;
    this.detail = detail;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  toProblem(): Problem {
    return this.detail === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, detail: this.detail };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_STATUS, value);
}

/** Rebuilds a WsiError from an error that crossed a thread boundary. */
export function reviveError(err: unknown): unknown {
  if (err instanceof WsiError) return err;
  if (err instanceof Error && err.name.startsWith('WsiError:')) {
    const code = err.name.slice('WsiError:'.length);
    if (isErrorCode(code)) return new WsiError(code, err.message);
  }
  return err;
}

export function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError');
}
