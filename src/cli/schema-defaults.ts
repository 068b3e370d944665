import { Option } from 'commander';
import { z } from 'zod';

/**
 * Flags whose default is a request schema's default, read from the schema: what `--help` shows,
 * what the command sends and what the workflow would take on its own are one value, written once.
 * Defaults are strings, as if typed on the command line, so the options parse them like any value.
 */

/** The default of `path` ("field" or "field.nested") in a zod object schema, as a flag's text. */
export function schemaDefault(schema: z.ZodType, path: string): string {
  return String(defaultAt(schema, path.split('.'), path));
}

function defaultAt(schema: z.ZodType, keys: string[], path: string): unknown {
  const [key, ...rest] = keys;
  if (key === undefined) {
    if (schema instanceof z.ZodDefault) return schema.def.defaultValue;
    throw new Error(`${path} has no default in its schema`);
  }
  const object = objectOf(schema);
  if (object) {
    const field = object.shape[key] as z.ZodType | undefined;
    if (!field) throw new Error(`${path}: the schema has no field "${key}"`);
    return defaultAt(field, rest, path);
  }
  // Not an object schema to walk (a union, e.g. the trainer): a field of the value it defaults to.
  if (schema instanceof z.ZodDefault) {
    const value = keys.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), schema.def.defaultValue);
    if (value !== undefined) return value;
  }
  throw new Error(`${path} has no default in its schema`);
}

function objectOf(schema: z.ZodType): z.ZodObject | undefined {
  let s: z.ZodType = schema;
  while (s instanceof z.ZodDefault || s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType;
  return s instanceof z.ZodObject ? s : undefined;
}

/** Where an option made by `schemaOption` takes its default from (for test/cli-defaults.test.ts). */
export interface DefaultSource {
  schema: z.ZodType;
  path: string;
}
const sources = new WeakMap<Option, DefaultSource>();

/** A commander option defaulting to `schema`'s default at `path`; add it with `.addOption(…)`. */
export function schemaOption(flags: string, description: string, schema: z.ZodType, path: string): Option {
  const option = new Option(flags, description).default(schemaDefault(schema, path));
  sources.set(option, { schema, path });
  return option;
}

export function defaultSourceOf(option: Option): DefaultSource | undefined {
  return sources.get(option);
}
