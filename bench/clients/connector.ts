// The Connector every uring-connect bench client uses: sized for the run's
// concurrency, so no connect waits for a slot or a ring entry. At least 64
// entries: a reset close is two (its SO_LINGER goes through the ring), and a
// ring of 2 at concurrency 1 split each close and connect into two submits.
import { Connector } from "../../src/index.ts";

export function benchConnector(concurrency: number): Connector {
  return new Connector({ maxInflight: concurrency, entries: Math.min(4096, Math.max(64, concurrency)) });
}
