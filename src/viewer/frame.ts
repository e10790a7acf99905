/** One drawing per animation frame: however often `request` is called before the frame, `draw` runs once in it. */
export class FrameScheduler {
  private frame = 0;

  constructor(private readonly draw: () => void) {}

  request(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  cancel(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
  }
}
