import type { Command } from 'commander';
import { contractFromFile, startIngest, startRepair } from '../../client/ingest';
import { listDatasets, listVersions, listVersionsOrExplain, resolveVersion } from '../../datasets/catalog';
import { parseDatasetRef } from '../../datasets/ref';
import type { DatasetManifest } from '../../datasets/manifest';
import { describeLines, describeRows } from '../../evaluation/data';
import { type IngestRequestInput, ingestRequestSchema } from '../../datasets/request';
import { SOURCE_FORMATS, type SourceFormat } from '../../datasets/source';
import { userError } from '../../errors';
import type { CliContext } from '../context';
import { schemaOption } from '../schema-defaults';
import { inferOptions, numberOption } from '../options';
import { formatNumber, printJson, printRows, printTable } from '../output';

export function registerDatasetCommands(program: Command, ctx: () => CliContext): void {
  program
    .command('ingest')
    .description('Ingest a file (or glob) into a new dataset version: validate, quarantine, snapshot, profile')
    .argument('<dataset>', 'dataset name')
    .argument('<path>', 'CSV, Parquet or NDJSON/JSON file, a glob such as "data/*.csv", or one s3:// object (on an S3 store)')
    .option('--contract <file>', 'contract JSON (default: infer one from the data)')
    .option('--key <columns>', 'for an inferred contract: comma-separated key columns (labels join to predictions by them)')
    .option('--label <column>', 'for an inferred contract: the label column')
    .addOption(schemaOption('--retention-days <n>', 'keep the raw copy this many days', ingestRequestSchema, 'retentionDays'))
    .addOption(schemaOption('--max-rejected-fraction <x>', 'fail if more than this share of rows breaks the contract', ingestRequestSchema, 'maxRejectedFraction'))
    .option('--format <format>', `source format (${SOURCE_FORMATS.join('|')}); default: from the extension`)
    .option('--delimiter <char>', 'CSV delimiter (default: sniffed)')
    .option('--no-header', 'CSV has no header row')
    .option('--no-wait', 'start the workflow and return its id without waiting')
    .option('--json', 'print the result as JSON')
    .action(async (dataset: string, source: string, opts) => {
      const request: IngestRequestInput = {
        dataset,
        source,
        retentionDays: numberOption('--retention-days', opts.retentionDays as string),
        maxRejectedFraction: numberOption('--max-rejected-fraction', opts.maxRejectedFraction as string),
      };
      if (opts.contract) Object.assign(request, contractFromFile(opts.contract));
      const infer = inferOptions(opts);
      if (infer) {
        if (opts.contract) throw userError('InvalidInput', '--key and --label describe an inferred contract; with --contract, put them in the contract');
        request.infer = infer;
      }
      if (opts.format) {
        if (!SOURCE_FORMATS.includes(opts.format)) {
          throw userError('InvalidInput', `--format must be one of ${SOURCE_FORMATS.join(', ')}`);
        }
        request.format = opts.format as SourceFormat;
      }
      if (opts.delimiter !== undefined || opts.header === false) {
        request.csv = { ...(opts.delimiter !== undefined ? { delimiter: opts.delimiter } : {}), ...(opts.header === false ? { header: false } : {}) };
      }
      const c = ctx();
      const handle = await startIngest(await c.temporal(), c.config, request);
      if (!opts.wait) {
        if (opts.json) printJson({ workflowId: handle.workflowId, runId: handle.firstExecutionRunId });
        else console.log(`started ${handle.workflowId}`);
        return;
      }
      if (!opts.json) console.error(`ingesting (workflow ${handle.workflowId}) …`);
      const ref = await c.answer(handle.result());
      if (opts.json) return printJson(ref);
      if (ref.repaired) console.log(`repaired ${ref.dataset}@${ref.version}: its snapshot ${ref.repaired.damage}; rebuilt from this source (recorded in the manifest)`);
      else console.log(`${ref.reused ? 'already published' : 'published'} ${ref.dataset}@${ref.version}`);
      console.log(`  rows: ${ref.rows.read} read, ${ref.rows.accepted} accepted, ${ref.rows.rejected} quarantined`);
      console.log(`  snapshot:   ${ref.snapshotUri}`);
      if (ref.quarantineUri) console.log(`  quarantine: ${ref.quarantineUri}`);
    });

  const datasets = program.command('datasets').description('Inspect published dataset versions');
  datasets
    .command('list')
    .description('Every dataset with its latest version')
    .option('--json', 'print as JSON')
    .action(async (opts) => {
      const { store } = ctx();
      const rows = [];
      for (const name of await listDatasets(store)) {
        const versions = await listVersions(store, name);
        const latest = versions[versions.length - 1];
        rows.push({ dataset: name, versions: versions.length, latest: latest?.version, rows: latest?.rows.accepted, created: latest?.createdAt });
      }
      printRows(rows, opts.json);
    });

  repairCommand(datasets, ctx);

  datasets
    .command('show')
    .description('Versions of a dataset, or one version (name@version, name@latest) with its profile')
    .argument('<ref>', 'dataset or dataset@version')
    .option('--json', 'print as JSON')
    .action(async (ref: string, opts) => {
      const { store } = ctx();
      if (!ref.includes('@')) {
        const versions = await listVersionsOrExplain(store, ref);
        const rows = versions.map((m) => ({
          version: m.version,
          created: m.createdAt,
          rows: m.rows.accepted,
          quarantined: m.rows.rejected,
          contract: m.contractInferred ? 'inferred' : m.contractFrom ? `from ${m.contractFrom}` : 'given',
          rawExpires: m.raw.expiresAt,
        }));
        return opts.json ? printJson(versions) : printTable(rows);
      }
      const manifest = await resolveVersion(store, ref);
      if (opts.json) return printJson(manifest);
      printManifest(manifest);
    });
}

function repairCommand(datasets: Command, ctx: () => CliContext): void {
  datasets
    .command('repair')
    .description("Check a version's snapshot against its manifest; rebuild a damaged one from the raw copy (recorded in the manifest)")
    .argument('<ref>', 'dataset@version (or dataset, dataset@latest)')
    .option('--json', 'print the outcome as JSON')
    .action(async (ref: string, opts) => {
      const { dataset, version } = parseDatasetRef(ref);
      const c = ctx();
      const outcome = await c.answer((await startRepair(await c.temporal(), c.config, { dataset, version })).result());
      if (opts.json) return printJson(outcome);
      const name = `${outcome.dataset}@${outcome.version}`;
      if (!outcome.repaired) return console.log(`${name}: the snapshot is the recorded file; nothing to repair`);
      const r = outcome.repaired;
      console.log(`repaired ${name}: its snapshot ${r.damage}; rebuilt from the raw copy`);
      console.log(
        `  sha256 ${r.sha256.slice(0, 12)}… (${r.sha256 === r.recordedSha256 ? 'the recorded bytes exactly' : `recorded ${r.recordedSha256.slice(0, 12)}…: the same rows, written anew`}); manifest ${outcome.manifestUri}`,
      );
    });
}

function printManifest(m: DatasetManifest): void {
  console.log(`${m.dataset}@${m.version}  created ${m.createdAt}`);
  console.log(`  rows: ${m.rows.read} read, ${m.rows.accepted} accepted, ${m.rows.rejected} quarantined`);
  console.log(`  snapshot:   ${m.snapshot.uri} (${m.snapshot.bytes} bytes, sha256 ${m.snapshot.sha256.slice(0, 12)}…)`);
  if (m.quarantine) console.log(`  quarantine: ${m.quarantine.uri}`);
  console.log(`  raw copy:   ${m.raw.uri} (expires ${m.raw.expiresAt})`);
  console.log(`  source:     ${m.source.files.map((f) => f.original).join(', ')}`);
  if (m.droppedColumns.length) console.log(`  dropped columns (not in contract): ${m.droppedColumns.join(', ')}`);
  if (m.lineage)
    console.log(
      `  lineage (${m.lineage.kind} of model ${m.lineage.model}):\n${describeLines(describeRows(m))
        .map((l) => `  ${l}`)
        .join('\n')}`,
    );
  for (const r of m.repairs ?? []) console.log(`  repaired:   ${r.at} from the ${r.from === 'source' ? 'source' : 'raw copy'} (snapshot ${r.damage})`);
  if (m.topRejectReasons.length) {
    console.log('  top reject reasons:');
    for (const r of m.topRejectReasons) console.log(`    ${r.count} × ${r.reason}`);
  }
  console.log('');
  printTable(
    m.profile.map((p) => ({
      column: p.name,
      type: p.type,
      nulls: p.nulls,
      distinct: p.distinct,
      min: p.min,
      median: p.quantiles?.['0.5'],
      max: p.max,
      mean: p.mean,
      std: p.std,
      top: p.top
        ?.slice(0, 3)
        .map((t) => `${t.value} (${formatNumber(t.count)})`)
        .join(', '),
    })),
  );
}
