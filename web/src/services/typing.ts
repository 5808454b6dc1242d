/** When to send TYPING_START / TYPING_STOP for keystrokes (docs/PROTOCOL.md
 * "Typing indicators"): START on the first keystroke, a refresh START every
 * `refreshMs` while typing goes on, STOP after `idleMs` without a keystroke
 * (or at once on send). Never more than one event per `minGapMs` (1 s). */
export type TypingEvent = "TYPING_START" | "TYPING_STOP";

export interface TypingOptions {
  emit: (event: TypingEvent) => void;
  idleMs?: number;
  refreshMs?: number;
  minGapMs?: number;
  now?: () => number;
}

export class TypingEmitter {
  private typing = false;
  private lastEmit = Number.NEGATIVE_INFINITY;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private deferred: ReturnType<typeof setTimeout> | null = null;
  private readonly idleMs: number;
  private readonly refreshMs: number;
  private readonly minGapMs: number;
  private readonly now: () => number;

  constructor(private readonly options: TypingOptions) {
    this.idleMs = options.idleMs ?? 3000;
    this.refreshMs = options.refreshMs ?? 5000;
    this.minGapMs = options.minGapMs ?? 1000;
    this.now = options.now ?? (() => Date.now());
  }

  /** A keystroke in the input. */
  keystroke(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.stop(), this.idleMs);
    if (!this.typing) {
      this.typing = true;
      this.emitSoon("TYPING_START");
    } else if (this.now() - this.lastEmit >= this.refreshMs) {
      this.emitSoon("TYPING_START");
    }
  }

  /** Sent, cleared, left: stop now (the server stops it by itself on a send). */
  stop(silently = false): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (!this.typing) return;
    this.typing = false;
    if (silently) {
      if (this.deferred !== null) clearTimeout(this.deferred);
      this.deferred = null;
      return;
    }
    this.emitSoon("TYPING_STOP");
  }

  dispose(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    if (this.deferred !== null) clearTimeout(this.deferred);
  }

  private emitSoon(event: TypingEvent): void {
    if (this.deferred !== null) clearTimeout(this.deferred);
    this.deferred = null;
    const wait = this.lastEmit + this.minGapMs - this.now();
    if (wait <= 0) {
      this.fire(event);
      return;
    }
    // Too soon after the last one: send the latest wish once the gap has passed.
    this.deferred = setTimeout(() => {
      this.deferred = null;
      const wanted: TypingEvent = this.typing ? "TYPING_START" : "TYPING_STOP";
      if (wanted === event) this.fire(event);
    }, wait);
  }

  private fire(event: TypingEvent): void {
    this.lastEmit = this.now();
    this.options.emit(event);
  }
}
