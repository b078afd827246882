// Types for common.mjs, which stays plain JavaScript so Node can run it too.
export interface ClientArgs {
  host: string;
  port: number;
  concurrency: number;
  connections: number;
}
export interface ClientReport {
  client: string;
  connects: number;
  errors: Record<string, number>;
  durationMs: number;
  rate: number;
  p50Us: number;
  p99Us: number;
}
export function parseArgs(argv: string[]): ClientArgs;
export class Recorder {
  constructor(total: number);
  ok(startMs: number, nowMs: number): void;
  error(code: string): void;
  report(client: string, durationMs: number): ClientReport;
}
export function closedLoop(total: number, concurrency: number, startOne: (done: () => void) => void): Promise<void>;
