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
import { Stats, type Phase, type Report } from "./stats.ts";

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
  /** Connections exchange data before closing: the report gets exchange counts and latency. */
  exchange?: boolean;
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
    this.stats = new Stats(performance.now(), run.exchange);
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

  /**
   * Count a failure in its phase; on a loopback target, out of ports means:
   * spread sources. Work the user interrupted is not a failure; work still
   * unfinished when the grace period after the end ran out is (ABORTED).
   */
  failed(error: unknown, phase: Phase): void {
    const code = codeOf(error);
    if (code === "ABORTED" && this.interrupted) return;
    this.stats.failed(code, phase);
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

/**
 * Open loop: how early a start may leave. Bun's timers count whole
 * milliseconds and fire up to ~1 ms late, and lateness would count in every
 * latency; so each wake-up launches the starts due within the next
 * millisecond. The rate and the count stay exact; each start leaves within
 * 1 ms of its schedule, and no CPU is spent waiting (a busy-wait for the
 * exact moment cost a whole core from 1,000 starts/s up).
 */
const OPEN_LOOP_LEAD_MS = 1;

/** Open loop: when start `i` is due, in ms from the run's start. The first is due at once. */
export const scheduledStartMs = (i: number, perSecond: number): number => (i * 1000) / perSecond;

/** Open loop: how many starts are due `elapsedMs` after the run's start (the first at 0). */
export const startsDueBy = (elapsedMs: number, perSecond: number): number => Math.floor((elapsedMs * perSecond) / 1000) + 1;

/** Run the rate engine to its end (count, duration or signal) and report. */
export function runRate(run: RateRun, dialer: Dialer): Promise<Report> {
  const state = new RunState(run, dialer);
  const { concurrency, rate } = run;
  const total = run.connections ?? Infinity;
  const t0 = state.stats.startedAt;
  const deadline = run.durationMs === undefined ? Infinity : t0 + run.durationMs;
  // Open loop: start i is due at t0 + i/rate, so a run of d ms has exactly ceil(d × rate) starts.
  const planned = rate === undefined || run.durationMs === undefined ? total : Math.min(total, Math.ceil((run.durationMs * rate) / 1000));
  /** Scheduled starts (open loop) not yet launched for want of capacity. */
  const backlog: number[] = [];
  let head = 0;
  let scheduled = 0;
  let issued = 0;
  let ending = false;

  return new Promise<Report>((resolve) => {
    /** Start one cycle; its latency counts from `intended`. */
    const launch = (intended: number) => {
      issued++;
      state.inFlight++;
      dialer.cycle(state.picker?.pick(), (error, establishedAt, exchangedAt) => {
        if (establishedAt === undefined) state.failed(error, "connect");
        else {
          state.stats.connected((establishedAt - intended) * 1000, establishedAt);
          if (exchangedAt !== undefined) state.stats.exchanged((exchangedAt - intended) * 1000);
          else if (error !== undefined) state.failed(error, "exchange");
        }
        state.inFlight--;
        fill();
      });
    };

    const stopped = () => ending || state.stop.signal.aborted;

    /** Open loop: queue every start due by `now` (the caller adds the lead). */
    const schedule = (now: number, perSecond: number) => {
      const due = Math.min(planned, startsDueBy(now - t0, perSecond));
      for (; scheduled < due; scheduled++) backlog.push(t0 + scheduledStartMs(scheduled, perSecond));
    };

    const fill = () => {
      const now = performance.now();
      if (rate === undefined) {
        while (!stopped() && now < deadline && state.inFlight < concurrency && issued < total) launch(performance.now());
        if (stopped() || now >= deadline || issued >= total) end();
        return;
      }
      if (!stopped()) schedule(now + OPEN_LOOP_LEAD_MS, rate);
      // Latency counts from the schedule when a start is late (stalls are not hidden),
      // from the real start when it leaves early (see OPEN_LOOP_LEAD_MS).
      while (!stopped() && state.inFlight < concurrency && head < backlog.length) launch(Math.min(backlog[head++]!, performance.now()));
      if (head > 4096 && head * 2 > backlog.length) backlog.splice(0, head), (head = 0);
      // A timed open-loop run lasts its whole duration, even once its last start is out.
      if (stopped() || now >= deadline || (issued >= planned && deadline === Infinity)) {
        const missed = ending || state.interrupted ? 0 : backlog.length - head;
        if (missed > 0) state.note(`${missed} of the ${scheduled} scheduled connects never started: all ${concurrency} connections at once were busy (raise the concurrency)`);
        end();
      }
    };

    // Open loop: wake for the next scheduled start, early by the lead (timers fire late).
    let ticker: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      if (rate === undefined || stopped() || scheduled >= planned) return;
      const wait = t0 + scheduledStartMs(scheduled, rate) - OPEN_LOOP_LEAD_MS - performance.now();
      ticker = setTimeout(tick, Math.max(0, Math.ceil(wait)));
    };
    const tick = () => {
      fill();
      arm();
    };
    const clearTicker = () => clearTimeout(ticker);

    let grace: ReturnType<typeof setTimeout> | undefined;
    let stopAtDeadline: ReturnType<typeof setTimeout> | undefined;
    const end = () => {
      if (!ending) {
        ending = true;
        clearTicker();
        clearTimeout(stopAtDeadline);
        // Whatever is still in flight after the grace period is abandoned (and counted as ABORTED).
        grace = setTimeout(() => state.stop.abort(), run.graceMs);
      }
      if (state.inFlight > 0) return;
      clearTimeout(grace);
      resolve(state.finish("rate", dialer.name, rate === undefined ? {} : { targetRate: rate }));
    };

    state.stop.signal.addEventListener("abort", () => fill(), { once: true });
    // Timers may fire a hair early by performance.now(): re-arm until the deadline has really passed.
    const atDeadline = () => {
      const left = deadline - performance.now();
      if (left > 0) stopAtDeadline = setTimeout(atDeadline, left);
      else fill();
    };
    if (run.durationMs !== undefined) stopAtDeadline = setTimeout(atDeadline, run.durationMs);
    tick();
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
          (error: unknown) => state.failed(error, "connect"),
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
  const openedAt = performance.now();
  if (!state.stop.signal.aborted) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, run.durationMs);
      state.stop.signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
    });
  }
  const holdMs = performance.now() - openedAt;
  const stillHeld = held.size;
  for (const connection of held) connection.close();
  held.clear();
  const rampMs = openedAt - t0;
  // A hold's rate is how fast it opened: over the whole run it would mostly measure the hold.
  const rate = rampMs > 0 ? state.stats.connects / (rampMs / 1000) : 0;
  return state.finish("hold", dialer.name, { held: stillHeld, dropped, rampMs, holdMs, rate });
}
