import { z } from 'zod';
import { didYouMean } from '../suggest';
import { hasLoneSurrogate } from '../sql/quote';
import { userError } from '../errors';
import { parseInput } from '../validation';

/**
 * A data contract: what a dataset's rows must look like. It is plain JSON so it can live in a
 * repo and be reviewed; this schema is its single definition, and compile.ts turns it into SQL.
 */
export const COLUMN_TYPES = ['integer', 'double', 'string', 'boolean', 'date', 'timestamp'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];

const columnName = z
  .string()
  .min(1, 'column name must not be empty')
  .max(255, 'column name must be at most 255 characters')
  .refine((s) => !s.includes('\0'), 'column name must not contain NUL')
  // A lone surrogate would reach SQL as U+FFFD: the output column would not have this name.
  .refine((s) => !hasLoneSurrogate(s), 'column name must be well-formed Unicode (no lone surrogates)')
  // In any case: DuckDB ignores ASCII case in identifiers, so "_MLOPS_REASON" collides with the
  // compiler's own _mlops_reason column (a Binder Error while writing the quarantine file).
  .refine((s) => !s.toLowerCase().startsWith('_mlops_'), "column names starting with '_mlops_' (in any case) are reserved");

/** Text compiled into SQL string literals, which cannot carry NUL or lone surrogates (quoteString throws a plain Error). */
const sqlText = (what: string) =>
  z
    .string()
    .refine((s) => !s.includes('\0'), `${what} must not contain NUL`)
    .refine((s) => !hasLoneSurrogate(s), `${what} must be well-formed Unicode (no lone surrogates)`);

export const columnSchema = z
  .object({
    name: columnName,
    type: z.enum(COLUMN_TYPES),
    nullable: z.boolean().default(true),
    min: z.number().finite().optional(),
    max: z.number().finite().optional(),
    /** Allowed values (strings compare exactly; numbers by value). */
    allowed: z
      .array(z.union([sqlText('allowed values'), z.number().finite()]))
      .min(1)
      .optional(),
    /** A regular expression the whole string value must match (RE2 syntax). */
    pattern: sqlText('pattern').min(1).optional(),
    description: z.string().optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const numeric = c.type === 'integer' || c.type === 'double';
    if ((c.min !== undefined || c.max !== undefined) && !numeric) {
      ctx.addIssue({ code: 'custom', message: `column "${c.name}": min/max apply to integer or double columns only` });
    }
    if (c.min !== undefined && c.max !== undefined && c.min > c.max) {
      ctx.addIssue({ code: 'custom', message: `column "${c.name}": min (${c.min}) is greater than max (${c.max})` });
    }
    if (c.pattern !== undefined && c.type !== 'string') {
      ctx.addIssue({ code: 'custom', message: `column "${c.name}": pattern applies to string columns only` });
    }
    if (c.allowed && c.type === 'string' && c.allowed.some((v) => typeof v !== 'string')) {
      ctx.addIssue({ code: 'custom', message: `column "${c.name}": allowed values of a string column must be strings` });
    }
    if (c.allowed && (c.type === 'date' || c.type === 'timestamp')) {
      ctx.addIssue({ code: 'custom', message: `column "${c.name}": allowed values apply to string, numeric and boolean columns; use min/max on a numeric column instead` });
    }
    if (c.pattern !== undefined) {
      try {
        new RegExp(c.pattern);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `column "${c.name}": pattern is not a valid regular expression (${(err as Error).message})` });
      }
    }
    if (c.allowed && numeric && c.allowed.some((v) => typeof v !== 'number')) {
      ctx.addIssue({ code: 'custom', message: `column "${c.name}": allowed values of a numeric column must be numbers` });
    }
  });

export const contractSchema = z
  .object({
    version: z.literal(1).default(1),
    description: z.string().optional(),
    columns: z.array(columnSchema).min(1, 'a contract needs at least one column'),
    /** Columns that together identify a row; must be unique and non-null. */
    key: z.array(columnName).default([]),
    label: columnName.optional(),
    /** Model inputs; default: every column that is neither key nor label. */
    features: z.array(columnName).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    const byLowerCase = new Map<string, string>();
    for (const { name } of c.columns) {
      // DuckDB resolves identifiers case-insensitively, so "Age" and "age" would collide.
      const previous = byLowerCase.get(name.toLowerCase());
      if (previous === name) ctx.addIssue({ code: 'custom', message: `column "${name}" is declared twice` });
      else if (previous !== undefined) {
        ctx.addIssue({ code: 'custom', message: `columns "${previous}" and "${name}" differ only in case` });
      }
      byLowerCase.set(name.toLowerCase(), name);
      seen.add(name);
    }
    const refs: Array<[string, string[]]> = [
      ['key', c.key],
      ['label', c.label ? [c.label] : []],
      ['features', c.features ?? []],
    ];
    for (const [field, cols] of refs) {
      for (const n of cols) {
        if (!seen.has(n)) ctx.addIssue({ code: 'custom', message: `${field} refers to unknown column "${n}"${didYouMean(n, [...seen], 'columns')}` });
      }
    }
    if (c.label && c.features?.includes(c.label)) {
      ctx.addIssue({ code: 'custom', message: `label "${c.label}" cannot also be a feature` });
    }
  });

export type Contract = z.infer<typeof contractSchema>;
export type ContractInput = z.input<typeof contractSchema>;
export type ContractColumn = z.infer<typeof columnSchema>;

export function featureColumns(contract: Contract): string[] {
  if (contract.features) return contract.features;
  const excluded = new Set([...contract.key, ...(contract.label ? [contract.label] : [])]);
  return contract.columns.map((c) => c.name).filter((n) => !excluded.has(n));
}

/** Parses a contract; a bad one is a non-retryable `InvalidContract` listing every problem. */
export function parseContract(input: unknown): Contract {
  return parseInput(contractSchema, input, 'contract', 'InvalidContract');
}

/** A contract file's text; `where` names the file in the error. */
export function parseContractJson(text: string, where: string): Contract {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw userError('InvalidContract', `The contract file ${where} is not valid JSON: ${(err as Error).message}`);
  }
  return parseContract(json);
}
