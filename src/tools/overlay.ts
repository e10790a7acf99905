/** How tools preview a gesture in the overlay: a cyan outline (dashed for measurements) and a text label. */

export function strokePreview(ctx: CanvasRenderingContext2D, pts: Array<[number, number]>, close: boolean, dashed = false): void {
  if (pts.length === 0) return;
  ctx.save();
  ctx.lineWidth = 2;
  ctx.strokeStyle = '#00e5ff';
  if (dashed) ctx.setLineDash([6, 4]);
  ctx.beginPath();
  ctx.moveTo(pts[0]![0], pts[0]![1]);
  for (const p of pts.slice(1)) ctx.lineTo(p[0], p[1]);
  if (close) ctx.closePath();
  ctx.stroke();
  ctx.restore();
}

export function labelPreview(ctx: CanvasRenderingContext2D, text: string, x: number, y: number): void {
  ctx.save();
  ctx.font = '13px system-ui, sans-serif';
  const w = ctx.measureText(text).width + 8;
  ctx.fillStyle = 'rgba(0,0,0,0.7)';
  ctx.fillRect(x + 8, y - 18, w, 18);
  ctx.fillStyle = '#fff';
  ctx.fillText(text, x + 12, y - 5);
  ctx.restore();
}
