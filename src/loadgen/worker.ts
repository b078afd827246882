/**
 * A worker process of a --workers run (started by ./workers.ts only): reads
 * its WorkerInput as JSON on stdin, runs its share of the job, prints
 * progress and notes on stderr and its report as JSON on stdout.
 */
export {};

const stop = new AbortController();
// Before anything else, so a signal during start-up still ends in a report.
// Every signal only stops the run: the parent decides when to give up on us.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => stop.abort());

const { runShare } = await import("./job.ts");
const { jobFromJson } = await import("./options.ts");
const { NOTE_PREFIX, PROGRESS_PREFIX } = await import("./workers.ts");
type Input = import("./workers.ts").WorkerInput;

const input = JSON.parse(await Bun.stdin.text()) as Input;
const report = await runShare(jobFromJson(input.job), input.index, input.count, {
  signal: stop.signal,
  onProgress: (p) => process.stderr.write(`${PROGRESS_PREFIX}${JSON.stringify(p)}\n`),
  onNote: (note) => process.stderr.write(`${NOTE_PREFIX}${note}\n`),
});
process.stdout.write(`${JSON.stringify(report)}\n`);
