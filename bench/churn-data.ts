/**
 * The churn-like data of the workflow benchmarks (bench:load, bench:peers:loop): its contract and
 * the query that generates it, in one place so both run the same pipeline on the same shape.
 */
import type { ContractInput } from '../src/contract/schema';

export const CHURN_CONTRACT: ContractInput = {
  columns: [
    { name: 'id', type: 'integer', nullable: false },
    { name: 'x1', type: 'double' },
    { name: 'x2', type: 'double' },
    { name: 'x3', type: 'double' },
    { name: 'color', type: 'string' },
    { name: 'churned', type: 'boolean', nullable: false },
  ],
  key: ['id'],
  label: 'churned',
};

/**
 * Rows firstId … firstId + rows - 1: churned depends on x1 (with weight `w`), x2 (10% missing), x3
 * and color; `seed` draws a different sample of the same kind.
 */
export function churnSql(opts: { seed: number; firstId: number; rows: number; labeled: boolean; w: number }): string {
  const { seed, firstId, rows, labeled, w } = opts;
  return `SELECT id, x1, x2, x3, color${labeled ? ', churned' : ''} FROM (
           SELECT *, (hash(id, 5, ${seed}) % 1000000) / 1000000.0
                     < 1 / (1 + exp(-(${w} * x1 - 1.5 * coalesce(x2, 0) + 0.5 * x3 + CASE color WHEN 'red' THEN 1 WHEN 'blue' THEN -1 ELSE 0 END))) AS churned
           FROM (SELECT i AS id,
                        ((hash(i, 1, ${seed}) % 10000) / 10000.0) * 4 - 2 AS x1,
                        CASE WHEN hash(i, 2, ${seed}) % 10 = 0 THEN NULL ELSE ((hash(i, 3, ${seed}) % 10000) / 10000.0) * 4 - 2 END AS x2,
                        ((hash(i, 6, ${seed}) % 10000) / 10000.0) * 2 AS x3,
                        ['red', 'green', 'blue'][(1 + hash(i, 4, ${seed}) % 3)::INTEGER] AS color
                 FROM range(${firstId}, ${firstId + rows}) t(i)))`;
}
