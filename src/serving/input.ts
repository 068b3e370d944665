import * as ort from 'onnxruntime-node';
import type { Contract, ContractColumn } from '../contract/schema';
import type { ModelCard } from '../models/card';
import { didYouMean } from '../suggest';

/**
 * Online input: JSON rows with the raw feature columns the model card names, checked against the
 * card and the training dataset's contract before anything reaches ONNX Runtime, then fed exactly
 * as batch scoring feeds them (float32 with NaN for a missing number, '' for a missing string),
 * so a row gets the same prediction online as in `mlops score`.
 */
export interface InputIssue {
  /** Index of the row in the request (0 for a single-row request). */
  row: number;
  field: string;
  problem: string;
}

/** Bad input: every problem found, each naming its row and field (HTTP 400). */
export class PredictionInputError extends Error {
  readonly type = 'InvalidInput';
  constructor(readonly issues: InputIssue[]) {
    const shown = issues.slice(0, 20).map((i) => `row ${i.row} field "${i.field}": ${i.problem}`);
    super(`Invalid prediction input: ${shown.join('; ')}${issues.length > shown.length ? `; and ${issues.length - shown.length} more` : ''}`);
    this.name = 'PredictionInputError';
  }
}

export interface InputFeeds {
  rows: number;
  feeds: Record<string, ort.Tensor>;
  /**
   * The values as the log keeps them, one column per model input (card.onnx.inputs order), not an
   * object per row: a numeric input's own feed (NaN only for a missing value, since non-finite
   * numbers are refused), a string input's values with null for missing.
   */
  features: Array<Float32Array | Array<string | null>>;
  /** The row's key as batch scoring writes it (key columns joined by U+241F), when the row carries every key column. */
  keys: Array<string | undefined>;
}

type FieldCheck = (value: unknown) => { value: number | string | null } | { problem: string };

/**
 * Columnar input, as the Open Inference Protocol sends it (v2.ts): one column per field, each
 * `rows` long. A typed array comes from a binary tensor (NaN in a float one is a missing value,
 * as ONNX models read it); a plain array holds JSON values, checked like the rows API's.
 */
export interface ColumnarInput {
  rows: number;
  columns: ReadonlyMap<string, ColumnValues>;
}
export type ColumnValues = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Int32Array | readonly unknown[];

/** Rows (JSON objects, the rows API) or columns (the Open Inference Protocol). */
export type PredictionInput = readonly unknown[] | ColumnarInput;

/** The checks for one model version, compiled once when it is loaded. */
export interface InputValidator {
  parse(input: PredictionInput): InputFeeds;
}

export interface InputOptions {
  /** Categorical values the model never saw in training: refused (default), or fed as the "unknown" level batch scoring uses. */
  unknownCategories?: 'reject' | 'accept';
}

/** Checking stops after this many problems: enough to mend a request, bounded for a huge bad one. */
const MAX_ISSUES = 100;

export function compileInputValidator(card: ModelCard, contract: Contract | undefined, options: InputOptions = {}): InputValidator {
  const columns = new Map((contract?.columns ?? []).map((c) => [c.name, c]));
  const inputs = card.onnx.inputs.map((i) => ({ name: i.name, float: i.type !== 'string' }));
  const checks = new Map<string, FieldCheck>(card.features.map((f) => [f.name, fieldCheck(f.kind === 'categorical' ? f.categories : undefined, columns.get(f.name), options)]));
  const keyColumns = contract?.key ?? [];
  // Other contract columns (keys, the label, ids) may ride along: known, not fed to the model.
  const known = new Set([...checks.keys(), ...columns.keys()]);
  const knownList = [...known];

  const parseRows = (rows: readonly unknown[]): InputFeeds => {
    const issues: InputIssue[] = [];
    const n = rows.length;
    const floats = new Map(inputs.filter((i) => i.float).map((i) => [i.name, new Float32Array(n)]));
    const strings = new Map(inputs.filter((i) => !i.float).map((i) => [i.name, new Array<string>(n)]));
    const loggedStrings = new Map(inputs.filter((i) => !i.float).map((i) => [i.name, new Array<string | null>(n).fill(null)]));
    const keys: InputFeeds['keys'] = [];
    rows.forEach((raw, r) => {
      if (issues.length >= MAX_ISSUES) return;
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        issues.push({
          row: r,
          field: '(row)',
          problem: `a row is a JSON object of feature columns, not ${Array.isArray(raw) ? 'an array' : raw === null ? 'null' : typeof raw}`,
        });
        return;
      }
      const row = raw as Record<string, unknown>;
      for (const field of Object.keys(row)) {
        if (!known.has(field)) issues.push({ row: r, field, problem: `unknown field${didYouMean(field, knownList, 'fields')}` });
      }
      for (const [name, check] of checks) {
        if (!(name in row)) {
          issues.push({ row: r, field: name, problem: `missing: the model needs it${columns.get(name)?.nullable === false ? '' : ' (send null when the value is unknown)'}` });
          continue;
        }
        const checked = check(row[name]);
        if ('problem' in checked) {
          issues.push({ row: r, field: name, problem: checked.problem });
          continue;
        }
        const f = floats.get(name);
        if (f) f[r] = checked.value === null ? Number.NaN : (checked.value as number);
        else {
          strings.get(name)![r] = checked.value === null ? '' : (checked.value as string);
          loggedStrings.get(name)![r] = checked.value as string | null;
        }
      }
      keys.push(keyOf(row, keyColumns));
    });
    if (issues.length) throw new PredictionInputError(issues);
    const feeds: Record<string, ort.Tensor> = {};
    for (const i of inputs) {
      feeds[i.name] = i.float ? new ort.Tensor('float32', floats.get(i.name)!, [n, 1]) : new ort.Tensor('string', strings.get(i.name)!, [n, 1]);
    }
    const features = inputs.map((i) => (i.float ? floats.get(i.name)! : loggedStrings.get(i.name)!));
    return { rows: n, feeds, features, keys };
  };

  const parseColumns = ({ rows: n, columns: given }: ColumnarInput): InputFeeds => {
    const issues: InputIssue[] = [];
    for (const [field, values] of given) {
      if (!known.has(field)) issues.push({ row: 0, field, problem: `unknown input${didYouMean(field, knownList, 'fields')}` });
      else if (values.length !== n) issues.push({ row: 0, field, problem: `has ${values.length} values; every input must have one per row (${n})` });
    }
    const feeds: Record<string, ort.Tensor> = {};
    const features: InputFeeds['features'] = [];
    for (const input of inputs) {
      const values = given.get(input.name);
      if (!values) {
        const nullable = columns.get(input.name)?.nullable !== false;
        issues.push({ row: 0, field: input.name, problem: `missing: the model needs it${nullable ? ' (send null, or NaN in a binary tensor, where a value is unknown)' : ''}` });
        continue;
      }
      if (values.length !== n) continue;
      const check = checks.get(input.name)!;
      const fail = (row: number, problem: string) => issues.length < MAX_ISSUES && issues.push({ row, field: input.name, problem });
      if (input.float) {
        const data = new Float32Array(n);
        if (ArrayBuffer.isView(values)) {
          // A binary tensor: NaN is the missing value; the rest goes through the same check as JSON.
          for (let r = 0; r < n; r++) {
            const v = values[r]!;
            const checked = check(Number.isNaN(v) ? null : v);
            if ('problem' in checked) fail(r, checked.problem);
            else data[r] = checked.value === null ? Number.NaN : (checked.value as number);
          }
        } else {
          for (let r = 0; r < n; r++) {
            const checked = check(values[r]);
            if ('problem' in checked) fail(r, checked.problem);
            else data[r] = checked.value === null ? Number.NaN : (checked.value as number);
          }
        }
        feeds[input.name] = new ort.Tensor('float32', data, [n, 1]);
        features.push(data);
      } else {
        const fed = new Array<string>(n);
        const logged = new Array<string | null>(n);
        for (let r = 0; r < n; r++) {
          const checked = check(ArrayBuffer.isView(values) ? values[r] : (values as readonly unknown[])[r]);
          if ('problem' in checked) fail(r, checked.problem);
          else {
            fed[r] = checked.value === null ? '' : (checked.value as string);
            logged[r] = checked.value as string | null;
          }
        }
        feeds[input.name] = new ort.Tensor('string', fed, [n, 1]);
        features.push(logged);
      }
    }
    if (issues.length) throw new PredictionInputError(issues);
    const keyValues = keyColumns.map((k) => given.get(k));
    const keys: InputFeeds['keys'] = [];
    for (let r = 0; r < n; r++) keys.push(keyValues.every((v) => v !== undefined) ? keyOfValues(keyValues.map((v) => v![r])) : undefined);
    return { rows: n, feeds, features, keys };
  };

  return { parse: (input) => (Array.isArray(input) ? parseRows(input) : parseColumns(input as ColumnarInput)) };
}

/**
 * One feature's check. Numbers must be finite JSON numbers (JSON.parse turns 1e999 into Infinity;
 * NaN cannot be written in JSON at all), integers for an integer column, true/false for a boolean
 * one; null is a missing value, allowed unless the contract says the column is never null.
 */
function fieldCheck(categories: string[] | undefined, column: ContractColumn | undefined, options: InputOptions): FieldCheck {
  const nullable = column?.nullable ?? true;
  const nullCheck = (v: unknown) => (v === null ? (nullable ? { value: null } : { problem: 'must not be null (the contract requires a value)' }) : undefined);
  if (categories) {
    const allowed = new Set(categories);
    return (v) => {
      const missing = nullCheck(v);
      if (missing) return missing;
      if (typeof v !== 'string') return { problem: `expected a string (a category), got ${describe(v)}` };
      if (options.unknownCategories !== 'accept' && !allowed.has(v))
        return { problem: `"${v}" is not a category the model was trained on${didYouMean(v, categories, 'categories')}` };
      return { value: v };
    };
  }
  const type = column?.type ?? 'double';
  return (v) => {
    const missing = nullCheck(v);
    if (missing) return missing;
    if (type === 'boolean') return typeof v === 'boolean' ? { value: v ? 1 : 0 } : { problem: `expected true or false, got ${describe(v)}` };
    if (typeof v !== 'number') return { problem: `expected a number, got ${describe(v)}` };
    if (!Number.isFinite(v)) return { problem: 'must be a finite number (not NaN or Infinity); send null when the value is unknown' };
    if (type === 'integer' && !Number.isInteger(v)) return { problem: `expected an integer, got ${v}` };
    return { value: v };
  };
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

/** As `keyExpression` in batch scoring writes it: CAST(... AS VARCHAR), joined by U+241F. */
function keyOf(row: Record<string, unknown>, keyColumns: readonly string[]): string | undefined {
  return keyOfValues(keyColumns.map((k) => row[k]));
}

function keyOfValues(values: readonly unknown[]): string | undefined {
  if (values.length === 0) return undefined;
  const parts: string[] = [];
  for (const v of values) {
    if (typeof v === 'string') parts.push(v);
    else if (typeof v === 'number' && Number.isFinite(v)) parts.push(String(v));
    else if (typeof v === 'boolean') parts.push(String(v));
    else return undefined;
  }
  return parts.join('\u241F');
}
