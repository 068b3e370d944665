import { z } from 'zod';
import { quoteString } from '../sql/quote';

/** How raw files are read. CSV options override DuckDB's sniffer when it guesses wrong. */
export const SOURCE_FORMATS = ['csv', 'parquet', 'json'] as const;
export type SourceFormat = (typeof SOURCE_FORMATS)[number];

export const csvOptionsSchema = z
  .object({
    delimiter: z.string().min(1).max(4).optional(),
    header: z.boolean().optional(),
    quote: z.string().max(1).optional(),
    /** Default: the quote character (RFC 4180: a quote inside a quoted field is doubled). */
    escape: z.string().max(1).optional(),
  })
  .strict();
export type CsvOptions = z.infer<typeof csvOptionsSchema>;

export function detectFormat(file: string): SourceFormat | undefined {
  const name = file.toLowerCase().replace(/\.(gz|zst)$/, '');
  if (/\.(csv|tsv|txt)$/.test(name)) return 'csv';
  if (/\.parquet$/.test(name)) return 'parquet';
  if (/\.(json|ndjson|jsonl)$/.test(name)) return 'json';
  return undefined;
}

export const CSV_REJECTS_TABLE = 'mlops_rejects';
export const CSV_REJECT_SCANS_TABLE = 'mlops_reject_scans';

/**
 * The table function that reads the files. CSV is read as text (all_varchar) so that a bad value
 * becomes a per-row contract violation instead of failing the whole read, and malformed lines are
 * collected in DuckDB's reject tables rather than aborting. `sniff-types` lets DuckDB detect column
 * types instead (contract inference).
 */
export function readRelation(files: readonly string[], format: SourceFormat, csv: CsvOptions = {}, mode: 'validate' | 'sniff-types' = 'validate'): string {
  const list = `[${files.map(quoteString).join(', ')}]`;
  switch (format) {
    case 'csv': {
      const opts =
        mode === 'validate'
          ? ['all_varchar = true', 'store_rejects = true', `rejects_table = '${CSV_REJECTS_TABLE}'`, `rejects_scan = '${CSV_REJECT_SCANS_TABLE}'`]
          : ['ignore_errors = true'];
      // Multi-file CSV is read positionally against the first file's header: DuckDB's reject
      // tables do not combine with union_by_name, and parts of one dataset share a layout.
      if (csv.header !== undefined) opts.push(`header = ${csv.header}`);
      opts.push(...dialectOptions(csv));
      return `read_csv(${[list, ...opts].join(', ')})`;
    }
    case 'parquet':
      return `read_parquet(${list}${files.length > 1 ? ', union_by_name = true' : ''})`;
    case 'json':
      return `read_json(${list}, format = 'auto'${files.length > 1 ? ', union_by_name = true' : ''})`;
  }
}

/**
 * The first line of a CSV file as written, one text value per column (column0, column1, …). Read
 * as data because DuckDB renames repeated header names (ignoring case) when it reads a header.
 */
export function csvFirstLineRelation(file: string, csv: CsvOptions = {}): string {
  const opts = ['header = false', 'all_varchar = true', ...dialectOptions(csv)];
  return `read_csv([${quoteString(file)}], ${opts.join(', ')})`;
}

/**
 * What DuckDB's sniffer must not guess. Left to it, a header such as `"\nSELECT\\"` made it
 * choose `\` as the escape and skip the first two lines as a preamble, so the file was read as
 * another table without a word (found by test/property.test.ts). Lines are never skipped, and
 * escaping is RFC 4180's unless the user says otherwise; delimiter and header stay sniffed.
 */
function dialectOptions(csv: CsvOptions): string[] {
  const opts = ['skip = 0'];
  if (csv.delimiter !== undefined) opts.push(`delim = ${quoteString(csv.delimiter)}`);
  if (csv.quote !== undefined) opts.push(`quote = ${quoteString(csv.quote)}`);
  opts.push(`escape = ${quoteString(csv.escape ?? csv.quote ?? '"')}`);
  return opts;
}
