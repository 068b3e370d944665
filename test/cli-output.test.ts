import { describe, expect, it } from 'vitest';
import { formatTable } from '../src/cli/output';

describe('formatTable', () => {
  it('shows every column any row has, in the order they first appear', () => {
    // The retraining loop's attempts: a failed first attempt has no metric, the second has one.
    const table = formatTable([
      { n: 1, outcome: 'failed', metric: '', reason: 'trainer crashed' },
      { n: 2, outcome: 'promoted', rocAuc: 0.91, baseline: 0.88, reason: 'gates passed' },
    ]);
    expect(table.split('\n')).toEqual([
      'n  outcome   metric  reason           rocAuc  baseline',
      '-  --------  ------  ---------------  ------  --------',
      '1  failed            trainer crashed',
      '2  promoted          gates passed     0.91    0.88',
    ]);
  });

  it('keeps the given columns and their order', () => {
    expect(formatTable([{ a: 1, b: 2, c: 3 }], ['c', 'a'])).toBe('c  a\n-  -\n3  1');
  });

  it('formats many rows (no argument spread over the rows)', () => {
    const rows = Array.from({ length: 200_000 }, (_, i) => ({ i }));
    const lines = formatTable(rows).split('\n');
    expect(lines).toHaveLength(200_002);
    expect(lines.at(-1)).toBe('199999');
  });

  it('says (none) for no rows', () => {
    expect(formatTable([])).toBe('(none)');
  });
});
