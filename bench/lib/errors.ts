/** The errors that end a run early; the entry point maps them to exit codes. */

/** A bad command line: exit 2 with the usage text. */
export class UsageError extends Error {}

/** Errors that end the run with exit 1 and just their message (no stack). */
export class FatalError extends Error {}
