// How long the JS thread went without running timers: the gaps between the
// firings of a 1 ms setInterval. A gap of ~1 ms means timers ran on time;
// a 30 ms gap means some turn (or run of turns) held the thread for 30 ms.

export interface GapSummary {
  /** Gaps measured (timer firings, plus the one still open at stop()). */
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Nearest-rank percentile of ascending `sorted`. */
function percentile(sorted: Float64Array, q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! : 0;
}

export class TimerGaps {
  private readonly gaps: number[] = [];
  private last = 0;
  private timer: ReturnType<typeof setInterval> | undefined;

  start(): void {
    this.last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      this.gaps.push(now - this.last);
      this.last = now;
    }, 1);
  }

  /** Stop, counting the gap still open: a thread blocked until the end must show. */
  stop(): GapSummary {
    clearInterval(this.timer);
    this.gaps.push(performance.now() - this.last);
    const sorted = Float64Array.from(this.gaps).sort();
    return { count: sorted.length, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99), maxMs: sorted[sorted.length - 1]! };
  }
}
