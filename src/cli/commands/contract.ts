import * as fs from 'node:fs';
import type { Command } from 'commander';
import { inferContract } from '../../contract/infer';
import { formatOf, resolveSourceFiles } from '../../datasets/raw';
import { SOURCE_FORMATS, type SourceFormat } from '../../datasets/source';
import { openDuckDb } from '../../sql/duckdb';
import type { CliContext } from '../context';
import { commaList } from '../options';

export function registerContractCommands(program: Command, ctx: () => CliContext): void {
  const contract = program.command('contract').description('Data contracts');
  contract
    .command('infer')
    .description('Write a starting contract from a data file: types, nullability, allowed values of low-cardinality text')
    .argument('<file>', 'CSV, Parquet or NDJSON/JSON file, or a glob')
    .option('--out <file>', 'write the contract here instead of stdout')
    .option('--label <column>', 'the label column')
    .option('--key <columns>', 'comma-separated key columns (unique, non-null)')
    .option('--format <format>', `source format (${SOURCE_FORMATS.join('|')})`)
    .option('--delimiter <char>', 'CSV delimiter (default: sniffed)')
    .action(async (file: string, opts) => {
      const { config } = ctx();
      const duckdb = await openDuckDb({ memoryLimit: config.duckdb.memoryLimit });
      try {
        const conn = await duckdb.connect();
        const files = await resolveSourceFiles(conn, file, config.ingestAllowedRoots);
        const format = formatOf(files, opts.format as SourceFormat | undefined);
        const inferred = await inferContract(conn, files, format, opts.delimiter !== undefined ? { delimiter: opts.delimiter } : {}, {
          label: opts.label,
          key: opts.key ? commaList(opts.key) : [],
          maxColumns: config.maxColumns,
        });
        const text = `${JSON.stringify(inferred, null, 2)}\n`;
        if (opts.out) {
          fs.writeFileSync(opts.out, text);
          console.error(`wrote ${opts.out} (${inferred.columns.length} columns); review it before relying on it`);
        } else {
          process.stdout.write(text);
        }
      } finally {
        duckdb.closeSync();
      }
    });
}
