/** Per-second rate of a monotonically increasing counter, sampled when status is read. */
export class RateMeter {
  private prevCount = 0;
  private prevAt = 0;
  private rate = 0;

  constructor(private readonly windowMs = 1000) {}

  update(count: number, now = Date.now()): number {
    if (this.prevAt === 0) {
      this.prevAt = now;
      this.prevCount = count;
      return 0;
    }
    const dt = now - this.prevAt;
    if (dt >= this.windowMs) {
      this.rate = Math.max(0, ((count - this.prevCount) * 1000) / dt);
      this.prevAt = now;
      this.prevCount = count;
    }
    return Math.round(this.rate * 10) / 10;
  }
}
