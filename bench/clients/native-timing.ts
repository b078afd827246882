// The longest call into uring-connect's native code on the JS thread. The
// io_uring backend keeps the symbol table object ringNative() returns and
// calls through it (`this.lib.uc_submit(...)`), so replacing that object's
// entries with timing wrappers, in this process only and before the
// Connector opens, times every call without touching src/.
import { ringNative } from "../../src/native.ts";

export interface SymbolTimes {
  calls: number;
  totalMs: number;
  maxMs: number;
}

export interface NativeCallTimes extends SymbolTimes {
  /** The symbol whose call took maxMs. */
  maxSymbol: string;
  bySymbol: Record<string, SymbolTimes>;
}

type NativeFunction = (...args: unknown[]) => unknown;

export class NativeCallTimer {
  private recording = false;
  private readonly bySymbol: Record<string, SymbolTimes> = {};

  /** Wraps every ring symbol; calls count only between start() and stop(). */
  constructor() {
    const table = ringNative() as unknown as Record<string, NativeFunction>;
    for (const [name, call] of Object.entries(table)) {
      const times: SymbolTimes = (this.bySymbol[name] = { calls: 0, totalMs: 0, maxMs: 0 });
      table[name] = (...args: unknown[]) => {
        if (!this.recording) return call(...args);
        const t0 = performance.now();
        const result = call(...args);
        const ms = performance.now() - t0;
        times.calls++;
        times.totalMs += ms;
        if (ms > times.maxMs) times.maxMs = ms;
        return result;
      };
    }
  }

  start(): void {
    this.recording = true;
  }

  /** Stop recording. Throws if nothing was timed: the backend no longer calls through the table, and the figure would be a false zero. */
  stop(): NativeCallTimes {
    this.recording = false;
    const entries = Object.entries(this.bySymbol).filter(([, t]) => t.calls > 0);
    if (entries.length === 0) throw new Error("no native call was timed: the io_uring backend no longer calls through ringNative()'s table");
    const [maxSymbol, longest] = entries.reduce((a, b) => (b[1].maxMs > a[1].maxMs ? b : a));
    const sum = (pick: (t: SymbolTimes) => number) => entries.reduce((n, [, t]) => n + pick(t), 0);
    return {
      calls: sum((t) => t.calls),
      totalMs: sum((t) => t.totalMs),
      maxMs: longest.maxMs,
      maxSymbol,
      bySymbol: Object.fromEntries(entries),
    };
  }
}
