/**
 * Warnings a slide gains while its tiles are read rather than when it opens.
 * Each kind is added to the slide's `warnings` (GET /api/slides/{id}) once
 * per open slide, naming the first block where it happened, so a damaged
 * file says so without a message per tile.
 */
import type { ShortBlock } from '../decode/block-decoder.js';

const SHORT_BLOCKS = 'compressed data ends before the end of its block';

/** Notes a block whose LZW, deflate or PackBits data ended early (its missing samples read as 0). */
export function noteShortBlock(warnings: string[], where: string, short: ShortBlock): void {
  if (warnings.some((w) => w.startsWith(SHORT_BLOCKS))) return;
  warnings.push(
    `${SHORT_BLOCKS} in this file (first at ${where}: ${short.decoded} of ${short.expected} bytes); the missing part of such blocks is shown as 0 (black), where libtiff reports an error`,
  );
}
