// The value after `--name` on this process's command line, for clients with flags of their own.

/** The argument after `name` (e.g. "--mode"), or undefined when the flag is absent. */
export function flagValue(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}
