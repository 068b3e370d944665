import { describe, expect, it } from 'vitest';
import { EXACT_PROFILE_MAX_ROWS, profileTable } from '../src/datasets/profile';
import { openDuckDb, queryRows } from '../src/sql/duckdb';

describe('profile of a large table', () => {
  it('keeps counts and histograms exact and estimates quantiles closely, saying so', async () => {
    const rows = EXACT_PROFILE_MAX_ROWS + 50_000;
    const db = await openDuckDb();
    const conn = await db.connect();
    // A skewed column (squares of a uniform) so that wrong quantiles would show.
    await conn.run(
      `CREATE TABLE t AS SELECT i AS id, (hash(i) % 1000) / 1000.0 AS u, ((hash(i) % 1000) / 1000.0) ^ 2 AS sq,
              CASE WHEN i % 3 = 0 THEN 'a' ELSE 'b' END AS cat FROM range(${rows}) r(i)`,
    );
    const columns = [
      { name: 'u', type: 'double' as const },
      { name: 'sq', type: 'double' as const },
      { name: 'cat', type: 'string' as const },
    ];
    const profile = await profileTable(conn, { relation: '(SELECT *, rowid AS rn FROM t)', rowNumber: 'rn' }, columns, rows);
    const [exact] = await queryRows<{ q: number[]; d: number }>(conn, 'SELECT quantile_cont(sq, [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]) AS q, count(DISTINCT sq) AS d FROM t');
    const sq = profile.find((p) => p.name === 'sq')!;
    expect(sq.approximate).toBe(true);
    expect(sq.count).toBe(rows);
    expect(sq.histogram!.counts.reduce((a, b) => a + b, 0)).toBe(rows);
    Object.values(sq.quantiles!).forEach((q, i) => expect(Math.abs(q - exact!.q[i]!)).toBeLessThan(0.01));
    expect(Math.abs(sq.distinct - exact!.d) / exact!.d).toBeLessThan(0.3);
    const cat = profile.find((p) => p.name === 'cat')!;
    expect(cat.approximate).toBeUndefined();
    expect(cat.top).toEqual([
      { value: 'b', count: rows - Math.ceil(rows / 3) },
      { value: 'a', count: Math.ceil(rows / 3) },
    ]);
    db.closeSync();
  });
});
