/** Exponential back-off with full jitter: attempt 0 waits up to `base`, each
 * further attempt doubles the ceiling, capped at `max`. */
export interface BackoffOptions {
  base: number;
  max: number;
  random?: () => number;
}

export function backoffDelay(attempt: number, { base, max, random = Math.random }: BackoffOptions): number {
  const ceiling = Math.min(max, base * 2 ** attempt);
  // Half fixed, half random: never 0, never over the ceiling, spread out.
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
