/**
 * `npm run bench:peers:ingest [-- --rows 1000000]`
 *
 * Our ingest activity (stageRawSource once, then buildDatasetVersion: validate, quarantine,
 * snapshot, profile, manifest) against the two Python peers a user would pick instead, on the same
 * generated CSV and contract as bench:ingest (bench/ingest-data.ts), alternating in one run:
 *   - pandas + pandera: lazy validation, the failing rows dropped, Parquet written;
 *   - polars: the same checks as one expression, filter, Parquet written.
 * Checked: every side rejects exactly the same rows (the keys of our quarantine against the keys
 * each peer drops), so it is the same job. Prints times (median of BENCH_REPEATS, default 2) and
 * peer ÷ ours (> 1: we are ahead).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatTable } from '../src/cli/output';
import { parseContract } from '../src/contract/schema';
import { buildDatasetVersion } from '../src/datasets/ingest';
import { stageRawSource, type StagedSource } from '../src/datasets/raw';
import { openDuckDb, queryRows } from '../src/sql/duckdb';
import { quoteString } from '../src/sql/quote';
import { ArtifactStore } from '../src/store/artifact-store';
import { contract, generateCsv } from './ingest-data';
import { ensureDir, median, recordHeadline, runHeader, runPeer, seconds } from './peers-common';

const OUT = path.join(__dirname, 'out', 'ingest');
const PEERS_OUT = path.join(__dirname, 'out', 'peers-ingest');
const REPEATS = Number(process.env.BENCH_REPEATS ?? 2);
const PEERS = ['pandas', 'polars'] as const;
type Peer = (typeof PEERS)[number];

function argRows(): number {
  const i = process.argv.indexOf('--rows');
  return i >= 0 ? Number(process.argv[i + 1]) : 1_000_000;
}

interface PeerReport {
  seconds: number;
  accepted: number;
  rejected: number;
}

async function main(): Promise<void> {
  const rows = argRows();
  ensureDir(OUT);
  ensureDir(PEERS_OUT);
  const duckdb = await openDuckDb({ spillDir: path.join(OUT, 'spill') });
  const conn = await duckdb.connect();
  const csv = path.join(OUT, `bench-${rows}.csv`);
  if (!fs.existsSync(csv)) {
    process.stderr.write(`generating ${rows} rows × 20 columns …\n`);
    await generateCsv(conn, rows, csv);
  }
  const contractFile = path.join(PEERS_OUT, 'contract.json');
  fs.writeFileSync(contractFile, JSON.stringify(contract));
  const storeRoot = path.join(PEERS_OUT, 'store');
  fs.rmSync(storeRoot, { recursive: true, force: true });
  const store = new ArtifactStore(storeRoot);
  const staged = await stageRawSource({ conn, store, dataset: 'bench', source: csv, retentionDays: 1, allowedRoots: [], now: new Date() });
  const parsed = parseContract(contract);
  const fresh = (run: string): StagedSource => ({ ...staged, fingerprint: { ...staged.fingerprint, hash: `${staged.fingerprint.hash}-${run}` } });

  const oursMs: number[] = [];
  const copyMs: number[] = [];
  const peerS: Record<Peer, number[]> = { pandas: [], polars: [] };
  const peerReport: Partial<Record<Peer, PeerReport>> = {};
  let ours: Awaited<ReturnType<typeof buildDatasetVersion>> | undefined;
  for (let r = 0; r < REPEATS; r++) {
    const start = performance.now();
    ours = await buildDatasetVersion({ conn, store, dataset: 'bench', staged: fresh(String(r)), contract: parsed, maxRejectedFraction: 0.05, now: new Date() });
    oursMs.push(performance.now() - start);
    process.stderr.write(`ours ${(oursMs.at(-1)! / 1000).toFixed(2)} s\n`);
    // The raw engine underneath, as bench:ingest reports it: CSV to Parquet, no checks.
    const copyStart = performance.now();
    await conn.run(`COPY (SELECT * FROM read_csv(${quoteString(csv)})) TO ${quoteString(path.join(PEERS_OUT, 'copy.parquet'))} (FORMAT parquet)`);
    copyMs.push(performance.now() - copyStart);
    for (const peer of PEERS) {
      const report = runPeer<PeerReport>('ingest_peer.py', [peer, csv, contractFile, path.join(PEERS_OUT, `${peer}.parquet`)]);
      peerS[peer].push(report.seconds);
      peerReport[peer] = report;
      process.stderr.write(`${peer} ${report.seconds.toFixed(2)} s\n`);
    }
  }
  if (!ours?.quarantineUri) throw new Error('our ingest quarantined nothing: the CSV should break the contract in ~0.6% of rows');

  // The same job: the same rows rejected on every side, compared key by key.
  const sameRows: Array<Record<string, unknown>> = [];
  for (const peer of PEERS) {
    const rejected = quoteString(path.join(PEERS_OUT, `${peer}.parquet.rejected.parquet`));
    const [diff] = await queryRows<{ onlyOurs: number; onlyPeer: number }>(
      conn,
      `WITH o AS (SELECT CAST(id AS BIGINT) AS id FROM read_parquet(${quoteString(ours.quarantineUri)})), p AS (SELECT id FROM read_parquet(${rejected}))
       SELECT (SELECT count(*) FROM (SELECT id FROM o EXCEPT SELECT id FROM p)) AS onlyOurs, (SELECT count(*) FROM (SELECT id FROM p EXCEPT SELECT id FROM o)) AS onlyPeer`,
    );
    const report = peerReport[peer]!;
    sameRows.push({
      side: peer,
      accepted: report.accepted,
      rejected: report.rejected,
      'rejected by us only': Number(diff!.onlyOurs),
      'rejected by the peer only': Number(diff!.onlyPeer),
    });
  }
  const oursS = median(oursMs) / 1000;
  console.log(`\n${runHeader('bench:peers:ingest')}; ${rows.toLocaleString('en')} rows, median of ${REPEATS}`);
  console.log(
    formatTable([
      { side: 'ours (ingest activity)', accepted: ours.rows.accepted, rejected: ours.rows.rejected, 'rejected by us only': '', 'rejected by the peer only': '' },
      ...sameRows,
    ]),
  );
  console.log(
    `\n${formatTable([
      { side: 'ours: buildDatasetVersion (validate, quarantine, snapshot, profile, manifest)', s: oursS.toFixed(2), 'peer ÷ ours (>1: ahead)': '' },
      { side: 'reference: duckdb COPY csv → parquet (no checks)', s: (median(copyMs) / 1000).toFixed(2), 'peer ÷ ours (>1: ahead)': (median(copyMs) / 1000 / oursS).toFixed(2) },
      ...PEERS.map((peer) => ({
        side: peer === 'pandas' ? 'pandas + pandera (read_csv, validate lazy, drop failing, to_parquet)' : 'polars (read_csv, one check expression, filter, write_parquet)',
        s: median(peerS[peer]).toFixed(2),
        'peer ÷ ours (>1: ahead)': (median(peerS[peer]) / oursS).toFixed(2),
      })),
    ])}`,
  );
  const copyS = median(copyMs) / 1000;
  const bench = `ingest + validation, ${rows.toLocaleString('en')} rows`;
  recordHeadline([
    {
      bench,
      what: 'against the raw engine',
      ours: seconds(oursS),
      peer: `DuckDB COPY (no checks) ${seconds(copyS)}`,
      vs: `${(copyS / oursS).toFixed(2)} of COPY`,
      target: '≥ 0.5 of COPY',
      met: copyS / oursS >= 0.5,
    },
    ...PEERS.map((peer) => ({
      bench,
      what: 'same contract, same rejected rows',
      ours: seconds(oursS),
      peer: `${peer === 'pandas' ? 'pandas + pandera' : 'polars'} ${seconds(median(peerS[peer]))}`,
      vs: `peer ÷ ours ${(median(peerS[peer]) / oursS).toFixed(2)}`,
      target: 'ahead (> 1)',
      met: median(peerS[peer]) / oursS > 1,
    })),
  ]);
  const mismatch = sameRows.some((r) => r['rejected by us only'] !== 0 || r['rejected by the peer only'] !== 0);
  if (mismatch) {
    console.log('\nThe peers do NOT reject the same rows as our ingest: the comparison is not the same job.');
    process.exitCode = 1;
  }
  fs.rmSync(storeRoot, { recursive: true, force: true });
  duckdb.closeSync();
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
