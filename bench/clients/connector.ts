// The Connector every uring-connect bench client uses: sized for the run's
// concurrency, so no connect waits for a slot or a ring entry.
import { Connector } from "../../src/index.ts";

export function benchConnector(concurrency: number): Connector {
  return new Connector({ maxInflight: concurrency, entries: Math.min(4096, concurrency) });
}
