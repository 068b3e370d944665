import type { ModelCard } from '../models/card';
import { quoteIdent } from '../sql/quote';

/**
 * The prediction log's columns, in order, with their DuckDB types: the one definition that the
 * batch writer (scoring/score.ts) and the online writer (serving/log.ts) both select through, so
 * a log part from either path has the same schema and `read_parquet` over a model's runs never
 * meets two spellings of one column. The features and contributions structs follow the model card.
 */
export interface LogColumn {
  name: string;
  type: string;
}

/** Which log column each expression fills; every column must have one. */
export type LogExpressions = Record<string, string>;

function struct(fields: Array<[string, string]>): string {
  return `STRUCT(${fields.map(([name, type]) => `${quoteIdent(name)} ${type}`).join(', ')})`;
}

export function predictionLogColumns(card: ModelCard): LogColumn[] {
  const columns: LogColumn[] = [
    { name: 'row_number', type: 'BIGINT' },
    { name: 'key', type: 'VARCHAR' },
    { name: 'features', type: struct(card.onnx.inputs.map((i) => [i.name, i.type === 'string' ? 'VARCHAR' : 'FLOAT'])) },
    { name: 'model', type: 'VARCHAR' },
    { name: 'model_version', type: 'VARCHAR' },
    { name: 'run_id', type: 'VARCHAR' },
    { name: 'dataset', type: 'VARCHAR' },
    { name: 'dataset_version', type: 'VARCHAR' },
    { name: 'scored_at', type: 'TIMESTAMP' },
    { name: 'output', type: 'DOUBLE' },
    { name: 'predicted_label', type: 'VARCHAR' },
    { name: 'flag', type: 'VARCHAR' },
  ];
  if (card.explanation) {
    columns.push({ name: 'contributions', type: struct(card.explanation.columns.map((c) => [c, 'FLOAT'])) });
  }
  return columns;
}

/**
 * A SELECT list that yields exactly `columns`, in their order, each cast to its type (a no-op
 * cast where the expression already has it). A column without an expression is a programming
 * error, named here rather than found later as a schema mismatch in someone's query.
 */
export function logSelectList(columns: LogColumn[], expressions: LogExpressions): string {
  const unknown = Object.keys(expressions).filter((name) => !columns.some((c) => c.name === name));
  if (unknown.length) throw new Error(`Prediction log has no column ${unknown.join(', ')}`);
  return columns
    .map(({ name, type }) => {
      const expression = expressions[name];
      if (expression === undefined) throw new Error(`Prediction log column ${name} has no expression`);
      return `CAST(${expression} AS ${type}) AS ${quoteIdent(name)}`;
    })
    .join(', ');
}
