// The Connector every uring-connect bench client uses: sized for the run's
// concurrency as the load generator sizes its own (ringEntriesFor), so no
// connect waits for a slot or a ring entry.
import { Connector } from "../../src/index.ts";
import { ringEntriesFor } from "../../src/loadgen/dialer.ts";

export function benchConnector(concurrency: number): Connector {
  return new Connector({ maxInflight: concurrency, entries: ringEntriesFor(concurrency) });
}
