// One connect-and-reset cycle per client kind, shared by the rate, latency
// and storm clients: start a connect, record when it settles, reset the
// connection at once, call `done`.
import type { Connector } from "../../src/index.ts";

/** Starts one connect; calls `done()` once it has settled. */
export type Cycle = (done: () => void) => void;

/** Where a cycle reports its outcome (Recorder in common.mjs). */
export interface Outcomes {
  ok(startMs: number, nowMs: number): void;
  error(code: string): void;
}

export interface Target {
  host: string;
  port: number;
}

const RESET = { reset: true } as const;

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException | undefined)?.code ?? "UNKNOWN";
}

/** uring-connect's raw path: connectFd, then closeFd with RST (the close is batched into the ring). */
export function fdCycle(connector: Connector, target: Target, out: Outcomes): Cycle {
  return (done) => {
    const start = performance.now();
    connector.connectFd(target).then(
      (fd) => {
        out.ok(start, performance.now());
        connector.closeFd(fd, RESET);
        done();
      },
      (error: unknown) => {
        out.error(errorCode(error));
        done();
      },
    );
  };
}

/** Handlers for adopted sockets: Bun adopts only with a data (or drain) handler; nothing is read. */
const IGNORE_DATA = { data() {} };

/** uring-connect's Bun-socket path: connect() adopts the fd as a Bun socket, then terminate() resets it. */
export function socketCycle(connector: Connector, target: Target, out: Outcomes): Cycle {
  return (done) => {
    const start = performance.now();
    connector.connect(target, { socket: IGNORE_DATA }).then(
      (socket) => {
        out.ok(start, performance.now());
        socket.terminate();
        done();
      },
      (error: unknown) => {
        out.error(errorCode(error));
        done();
      },
    );
  };
}

/** Bun.connect, reset with terminate() from its open handler. */
export function bunCycle(target: Target, out: Outcomes): Cycle {
  return (done) => {
    const start = performance.now();
    Bun.connect({
      hostname: target.host,
      port: target.port,
      socket: {
        open(socket) {
          out.ok(start, performance.now());
          socket.terminate();
          done();
        },
        connectError(_socket, error) {
          out.error(errorCode(error));
          done();
        },
        data() {},
      },
    }).catch(() => {});
  };
}
