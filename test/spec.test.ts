import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SPEC_SCHEMA_FILE, specSchemaText } from '../scripts/spec-schema';
import { parseSpec, readSpecFile } from '../src/spec/load';

/** The declarative spec's reading and validation: what `mlops apply` refuses, and where it says the problem is. */
const EXAMPLE = path.resolve(__dirname, '../examples/specs/churn.yaml');

describe('model spec files', () => {
  it('reads the example with every default of the commands filled in', () => {
    const { spec } = readSpecFile(EXAMPLE);
    expect(spec.name).toBe('churn');
    expect(spec.monitoring).toMatchObject({ every: '1d', drift: { psi: 0.2, pValue: 0.01 }, maxMetricDrop: 0.03, minLabeledRows: 200, retrainOnTrigger: true });
    expect(spec.retraining).toMatchObject({ maxAttempts: 3, maxDuration: '6h', escalationTimeout: '7d', trainingWindow: 'original+production' });
    expect(spec.datasets?.['churn-live']).toMatchObject({ role: 'live', landing: { pattern: '*.csv', every: '1m', ready: { stableFor: '30s' } }, retentionDays: 30 });
    expect(spec.datasets?.churn).toMatchObject({ role: 'training', landing: { pattern: '*', ready: { marker: '.done' } } });
    expect(spec.scoring).toEqual({ maxFlaggedShare: 0.02, rangeMargin: 0.1, retentionDays: 90, acknowledgeTimeout: '7d' });
    expect(spec.promotion).toMatchObject({ policy: 'auto', approvalTimeout: '24h', gates: { minImprovement: 0.002, thresholds: { rocAuc: { min: 0.7 } } } });
  });

  it('takes JSON as well', () => {
    const spec = parseSpec(JSON.stringify({ apiVersion: 'mlops/v1', kind: 'Model', name: 'm', monitoring: { every: '12h' } }), 'm.json');
    expect(spec.monitoring?.every).toBe('12h');
  });

  it('names every problem by its line and path in the file, all at once', () => {
    const text = [
      'apiVersion: mlops/v1',
      'kind: Model',
      'name: churn',
      'monitoring:',
      '  every: 30s',
      '  drift:',
      '    psi: high',
      '  bogus: 1',
      'retraining:',
      '  maxAttempts: 0',
      '',
    ].join('\n');
    const message = errorOf(() => parseSpec(text, 'churn.yaml'));
    expect(message).toContain('churn.yaml:5 monitoring.every: interval must be at least 60s');
    expect(message).toMatch(/churn\.yaml:7 monitoring\.drift\.psi: .*expected number/);
    expect(message).toContain('churn.yaml:8 monitoring.bogus: unknown key');
    expect(message).toMatch(/churn\.yaml:10 retraining\.maxAttempts: .*>=1/);
  });

  it('refuses a wrong kind or version, a hostile name, broken YAML, duplicate keys and an empty file, saying which', () => {
    expect(errorOf(() => parseSpec('apiVersion: mlops/v2\nkind: Model\nname: m\n', 's.yaml'))).toMatch(/s\.yaml:1 apiVersion: .*mlops\/v1/);
    expect(errorOf(() => parseSpec('apiVersion: mlops/v1\nkind: Model\nname: ../etc\n', 's.yaml'))).toMatch(/s\.yaml:3 name: model name must be/);
    expect(errorOf(() => parseSpec('apiVersion: mlops/v1\nkind: [Model\n', 's.yaml'))).toMatch(/s\.yaml:\d+ is not valid YAML or JSON/);
    expect(errorOf(() => parseSpec('apiVersion: mlops/v1\nkind: Model\nname: a\nname: b\n', 's.yaml'))).toMatch(/s\.yaml:4 is not valid YAML or JSON: .*unique/i);
    expect(errorOf(() => parseSpec('# nothing yet\n', 's.yaml'))).toMatch(/s\.yaml is empty/);
    expect(errorOf(() => readSpecFile('/nonexistent/spec.yaml'))).toMatch(/Cannot read spec file \/nonexistent\/spec\.yaml: ENOENT/);
  });

  it('the JSON Schema for editors is the one the CLI validates with (npm run spec:schema writes it)', () => {
    expect(fs.readFileSync(SPEC_SCHEMA_FILE, 'utf8')).toBe(specSchemaText());
  });
});

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected an error');
}
