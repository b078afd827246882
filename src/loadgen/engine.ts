/**
 * The load-generation engines.
 *
 * rate: keep up to `concurrency` connections cycling (connect, optional
 * exchange, close). Closed loop by default; with `rate`, open loop: each
 * connect has a scheduled start, and its latency counts from that schedule,
 * so a stall shows up in the percentiles instead of silently lowering the
 * send rate (coordinated omission corrected, as wrk2 does).
 *
 * hold: open `count` connections (optionally ramped), keep them open for
 * the hold period, count those the peer dropped meanwhile.
 */
import type { Dialer, HeldConnection } from "./dialer.ts";
import { LOOPBACK_SPREAD, SourcePicker, parseSourceRange } from "./limits.ts";
import { Stats, type Report } from "./stats.ts";

/** A snapshot for the live line, about once a second. */
export interface Progress {
  elapsedMs: number;
  connects: number;
  /** Successful connects per second over the last interval. */
  rateNow: number;
  inFlight: number;
  errors: number;
  held?: number;
}

interface Common {
  /** The target as the user wrote it, for the report. */
  label: string;
  concurrency: number;
  /** Source addresses to spread over, round-robin. */
  sources?: string[];
  /** Loopback IPv4 target without --source: spread when ports run out. */
  autoSpread?: boolean;
  /** Stops the run early; what was done is still reported. */
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
  /** Told about each decision the run makes on its own (also in report.notes). */
  onNote?: (note: string) => void;
  /** Notes decided before the run (limits capped...). */
  notes?: string[];
}

export interface RateRun extends Common {
  /** Stop after this many connects have started... */
  connections?: number;
  /** ...or after this long (ms). */
  durationMs?: number;
  /** Open loop: connects scheduled per second. */
  rate?: number;
  /** How long in-flight work may take to finish after the end (ms). */
  graceMs: number;
}

export interface HoldRun extends Common {
  /** Connections to open and hold. */
  count: number;
  /** Opened per second (default: as fast as `concurrency` allows). */
  rampPerSec?: number;
  /** How long to hold them once all are open (ms). */
  durationMs: number;
}

const codeOf = (error: unknown): string => {
  const code = (error as { code?: unknown } | null)?.code;
  // Closing the Connector is how an interrupted run abandons its connects.
  if (code === "ERR_CONNECTOR_CLOSED") return "ABORTED";
  if (typeof code === "string") return code;
  return (error as Error | null)?.name === "AbortError" ? "ABORTED" : "EUNKNOWN";
};

/** Shared bookkeeping: progress ticks, notes, source spreading. */
class RunState {
  readonly stats: Stats;
  readonly notes: string[];
  readonly stop = new AbortController();
  picker: SourcePicker | undefined;
  inFlight = 0;
  interrupted = false;
  private lastConnects = 0;
  private readonly ticker: ReturnType<typeof setInterval>;

  constructor(
    readonly run: Common,
    dialer: Dialer,
    progressExtra: () => Partial<Progress> = () => ({}),
  ) {
    this.stop.signal.addEventListener("abort", () => dialer.abortAll(), { once: true });
    this.stats = new Stats(performance.now());
    this.notes = [...(run.notes ?? [])];
    this.picker = run.sources?.length ? new SourcePicker(run.sources) : undefined;
    this.ticker = setInterval(() => {
      const { connects, failures } = this.stats;
      const progress = {
        elapsedMs: performance.now() - this.stats.startedAt,
        connects,
        rateNow: connects - this.lastConnects,
        inFlight: this.inFlight,
        errors: failures,
        ...progressExtra(),
      };
      this.lastConnects = connects;
      run.onProgress?.(progress);
    }, 1000);
    if (run.signal?.aborted) this.interrupt();
    else run.signal?.addEventListener("abort", () => this.interrupt(), { once: true });
  }

  interrupt(): void {
    this.interrupted = true;
    this.stop.abort();
  }

  note(note: string): void {
    this.notes.push(note);
    this.run.onNote?.(note);
  }

  /** Count a failure; on a loopback target, out of ports means: spread sources. */
  failed(error: unknown): void {
    const code = codeOf(error);
    if (code === "ABORTED" && this.stop.signal.aborted) return;
    this.stats.failed(code);
    if (code === "EADDRNOTAVAIL" && this.run.autoSpread && !this.picker) {
      this.picker = new SourcePicker(parseSourceRange(LOOPBACK_SPREAD));
      this.note(`ephemeral ports ran out (EADDRNOTAVAIL): spreading source addresses over ${LOOPBACK_SPREAD}`);
    }
  }

  finish(mode: "rate" | "hold", engine: Dialer["name"], extra: Partial<Report> = {}): Report {
    clearInterval(this.ticker);
    return this.stats.report({
      mode,
      target: this.run.label,
      engine,
      concurrency: this.run.concurrency,
      durationMs: performance.now() - this.stats.startedAt,
      workers: 1,
      interrupted: this.interrupted,
      notes: this.notes,
      ...extra,
    });
  }
}

/** Run the rate engine to its end (count, duration or signal) and report. */
export function runRate(run: RateRun, dialer: Dialer): Promise<Report> {
  const state = new RunState(run, dialer);
  const { concurrency, rate } = run;
  const total = run.connections ?? Infinity;
  const t0 = state.stats.startedAt;
  const deadline = run.durationMs === undefined ? Infinity : t0 + run.durationMs;
  /** Scheduled starts (open loop) not yet launched for want of capacity. */
  const backlog: number[] = [];
  let head = 0;
  let scheduled = 0;
  let issued = 0;
  let ending = false;

  return new Promise<Report>((resolve) => {
    const launch = (intended: number) => {
      issued++;
      state.inFlight++;
      dialer.cycle(state.picker?.pick(), (error, establishedAt) => {
        if (establishedAt !== undefined) state.stats.connected((establishedAt - intended) * 1000, establishedAt);
        else state.failed(error);
        state.inFlight--;
        fill();
      });
    };

    const open = () => !ending && !state.stop.signal.aborted && performance.now() < deadline;

    const fill = () => {
      if (rate === undefined) {
        while (open() && state.inFlight < concurrency && issued < total) launch(performance.now());
      } else {
        while (open() && state.inFlight < concurrency && head < backlog.length) launch(backlog[head++]!);
        if (head > 4096 && head * 2 > backlog.length) backlog.splice(0, head), (head = 0);
      }
      if (!open() || issued >= total) end();
    };

    // Open loop: a 1 ms tick puts every start that is due on the backlog.
    const schedule =
      rate === undefined
        ? undefined
        : setInterval(() => {
            const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000));
            for (; scheduled < due; scheduled++) backlog.push(t0 + (scheduled * 1000) / rate);
            fill();
          }, 1);

    let grace: ReturnType<typeof setTimeout> | undefined;
    let stopAtDeadline: ReturnType<typeof setTimeout> | undefined;
    const end = () => {
      if (!ending) {
        ending = true;
        clearInterval(schedule);
        clearTimeout(stopAtDeadline);
        // Whatever is still in flight after the grace period is abandoned.
        grace = setTimeout(() => state.stop.abort(), run.graceMs);
      }
      if (state.inFlight > 0) return;
      clearTimeout(grace);
      resolve(state.finish("rate", dialer.name, rate === undefined ? {} : { targetRate: rate }));
    };

    state.stop.signal.addEventListener("abort", () => fill(), { once: true });
    if (run.durationMs !== undefined) stopAtDeadline = setTimeout(fill, run.durationMs);
    fill();
  });
}

/** Open, hold, and release `count` connections; report established, failed and dropped. */
export async function runHold(run: HoldRun, dialer: Dialer): Promise<Report> {
  const held = new Set<HeldConnection>();
  let dropped = 0;
  const state = new RunState(run, dialer, () => ({ held: held.size }));
  const { count, concurrency, rampPerSec } = run;
  const t0 = state.stats.startedAt;

  await new Promise<void>((resolve) => {
    let issued = 0;
    const launch = () => {
      const intended = rampPerSec ? t0 + (issued * 1000) / rampPerSec : performance.now();
      issued++;
      state.inFlight++;
      let connection: HeldConnection | undefined;
      dialer
        .hold(
          state.picker?.pick(),
          () => {
            if (connection && held.delete(connection)) dropped++;
          },
        )
        .then(
          (c) => {
            connection = c;
            held.add(c);
            const now = performance.now();
            state.stats.connected((now - intended) * 1000, now);
          },
          (error: unknown) => state.failed(error),
        )
        .finally(() => {
          state.inFlight--;
          fill();
        });
    };
    const fill = () => {
      const due = rampPerSec ? Math.min(count, Math.floor(((performance.now() - t0) * rampPerSec) / 1000) + 1) : count;
      while (!state.stop.signal.aborted && issued < due && state.inFlight < concurrency) launch();
      if ((issued >= count || state.stop.signal.aborted) && state.inFlight === 0) {
        clearInterval(ramp);
        resolve();
      }
    };
    const ramp = rampPerSec ? setInterval(fill, 5) : undefined;
    state.stop.signal.addEventListener("abort", fill, { once: true });
    fill();
  });

  // Hold: wait out the period, or an interrupt.
  if (!state.stop.signal.aborted) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, run.durationMs);
      state.stop.signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
    });
  }
  const stillHeld = held.size;
  for (const connection of held) connection.close();
  held.clear();
  return state.finish("hold", dialer.name, { held: stillHeld, dropped });
}
