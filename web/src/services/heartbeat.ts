/** A socket's heartbeat: pings when nothing was sent for `pingEveryMs`, and
 * calls `onSilent` when nothing was heard for `silenceLimitMs` (a connection
 * dead without a close). */
export class Heartbeat {
  private lastSent = 0;
  private lastHeard = 0;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly ping: () => void,
    private readonly onSilent: () => void,
    private readonly pingEveryMs = 20_000,
    private readonly silenceLimitMs = 75_000,
  ) {}

  start(): void {
    this.stop();
    this.heard();
    this.timer = setInterval(() => {
      const now = Date.now();
      if (now - this.lastHeard > this.silenceLimitMs) this.onSilent();
      else if (now - this.lastSent >= this.pingEveryMs) this.ping();
    }, Math.min(this.pingEveryMs, 5_000));
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  heard(): void {
    this.lastHeard = Date.now();
  }

  sent(): void {
    this.lastSent = Date.now();
  }
}
