import { existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from './args.js';
import type { ReportData } from './report-data.js';
import { renderReport } from './report-html.js';

/**
 * The `--report <file.html>` value, checked before anything is sent: undefined when the flag is
 * absent; a usage error naming the flag when it is empty, a directory, in a directory that does
 * not exist, or the input or results file.
 */
export function reportFlag(
  command: string,
  raw: string | undefined,
  files: { readonly input: string; readonly out: string },
): string | undefined {
  if (raw === undefined) return undefined;
  const bad = (why: string): UsageError =>
    new UsageError(
      `${command}: --report expects the path of an HTML file to write, got ${JSON.stringify(raw)}: ${why}`,
    );
  if (raw.trim() === '') throw bad('it is empty');
  const path = resolve(raw);
  if (raw.endsWith('/') || (existsSync(path) && statSync(path).isDirectory())) throw bad('it is a directory');
  if (!existsSync(dirname(path))) throw bad('its directory does not exist');
  if (path === resolve(files.input) || path === resolve(files.out)) {
    throw bad('it is the input or the results file');
  }
  return raw;
}

/**
 * Writes the report, synchronously (so a second Ctrl-C, which quits at once, still leaves it).
 * `scrub` removes the API key, should one have found its way in. Returns an error message, or
 * undefined when written.
 */
export function writeReportFile(path: string, data: ReportData, scrub: (text: string) => string): string | undefined {
  try {
    writeFileSync(path, scrub(renderReport(data)));
    return undefined;
  } catch (error) {
    return `cannot write the report ${path}: ${error instanceof Error ? error.message : String(error)}`;
  }
}
