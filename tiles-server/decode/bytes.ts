/**
 * Byte views that own their memory exactly. Node Buffers under 4 KiB share a
 * pool, and Buffer#slice is a view, so `buf.slice().buffer` can be the whole
 * pool: transferring it to a worker would detach memory other Buffers use.
 */

/** The same bytes in a Uint8Array whose buffer holds exactly them. */
export function owned(u8: Uint8Array): Uint8Array<ArrayBuffer> {
  if (u8.byteOffset === 0 && u8.byteLength === u8.buffer.byteLength && u8.buffer instanceof ArrayBuffer) return u8 as Uint8Array<ArrayBuffer>;
  const copy = new Uint8Array(u8.byteLength);
  copy.set(u8);
  return copy;
}

/** An ArrayBuffer holding exactly these bytes (copied when needed). */
export function ownedBuffer(u8: Uint8Array): ArrayBuffer {
  return owned(u8).buffer;
}
