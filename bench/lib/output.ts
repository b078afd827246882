/** Terminal output: the stdout printer (bold/warn colours, silent under --json), stderr progress, number formats, tables. */
import type { Options } from "./options.ts";

export interface Printer {
  line: (text?: string) => void;
  bold: (text: string) => string;
  warn: (text: string) => string;
}

export function makePrinter(opts: Pick<Options, "json">): Printer {
  const color = process.stdout.isTTY === true && !opts.json;
  const paint = (code: number) => (text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  // In --json mode the one JSON object is the only thing on stdout.
  return { line: opts.json ? () => {} : (text = "") => console.log(text), bold: paint(1), warn: paint(33) };
}

export function makeProgress(): (message: string) => void {
  // Progress goes to stderr, and only to a terminal: logs and --json stay clean.
  if (!process.stderr.isTTY) return () => {};
  return (message) => process.stderr.write(`\r\x1b[K${message}`);
}

const dash = "-";
export const plural = (n: number, word: string) => `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;
const fixed = (digits: number) => (n: number | undefined) => (n === undefined ? dash : n.toFixed(digits));
export const fmtMs = fixed(2);
export const fmtUs = fixed(0);
export const fmtRate = (n: number | undefined) => (n === undefined ? "failed" : Math.round(n).toLocaleString("en-US"));
export const fmtSpread = (n: number | undefined) => (n === undefined ? dash : `±${n.toFixed(1)}%`);
export const fmtRatio = (n: number | undefined) => (n === undefined ? dash : `${n.toFixed(2)}×`);
export const fmtErrors = (errors: Record<string, number>) =>
  Object.entries(errors).map(([code, n]) => `${code}:${n}`).join(", ") || dash;

/** Plain-text table: first and `leftAligned` columns padded right, the rest left. */
export function renderTable(header: string[], rows: string[][], leftAligned: number[], p: Printer): void {
  const widths = header.map((h, col) => Math.max(h.length, ...rows.map((row) => row[col]!.length)));
  const format = (cells: string[]) =>
    cells
      .map((cell, col) => (col === 0 || leftAligned.includes(col) ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!)))
      .join("  ")
      .trimEnd();
  p.line(p.bold(`  ${format(header)}`));
  for (const row of rows) p.line(`  ${format(row)}`);
}
