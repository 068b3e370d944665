import type { Command } from 'commander';
import { userError } from '../../errors';
import { createLineageViews, VIEWS } from '../../lineage/views';
import { openDuckDb, queryRecords } from '../../sql/duckdb';
import type { CliContext } from '../context';
import { printRows } from '../output';

export function registerSqlCommand(program: Command, ctx: () => CliContext): void {
  program
    .command('sql')
    .description('Query lineage and predictions with DuckDB SQL over views of the artifact store')
    .argument('<query>', 'e.g. "SELECT model, version, test_metrics.rocAuc FROM models ORDER BY created_at"')
    .option('--json', 'print rows as JSON')
    .addHelpText('after', `\nViews:\n${VIEWS.map((v) => `  ${v.name.padEnd(13)} ${v.description}`).join('\n')}\n`)
    .action(async (query: string, opts) => {
      const db = await openDuckDb();
      try {
        const conn = await db.connect();
        await ctx().store.backend.setupDuckDb(conn);
        const { missing } = await createLineageViews(conn, ctx().store);
        const rows = await queryRecords(conn, query).catch((err: Error) => {
          const hint = missing.length ? ` (no data yet for: ${missing.join(', ')})` : '';
          throw userError('InvalidInput', `${err.message.split('\n')[0]}${hint}`);
        });
        printRows(opts.json ? rows : rows.map(flatten), opts.json);
      } finally {
        db.closeSync();
      }
    });
}

/** Structs and lists as compact JSON in table cells. */
function flatten(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v !== null && typeof v === 'object' ? JSON.stringify(v) : v]));
}
