import * as fs from 'node:fs';
import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { userError } from '../errors';
import { modelSpecSchema, type ModelSpec } from './schema';

/**
 * Reads a spec file (YAML, or JSON, which is YAML too) and validates it. Every problem is named by
 * its path in the file and its line (`churn.yaml:12 monitoring.drift.psi: expected number`), all of
 * them at once, so a user fixes the file in one pass.
 */
export function readSpecFile(file: string): { spec: ModelSpec; text: string } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw userError('InvalidInput', `Cannot read spec file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return { spec: parseSpec(text, file), text };
}

export function parseSpec(text: string, file: string): ModelSpec {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const at = first.linePos?.[0];
    throw userError('InvalidInput', `${file}${at ? `:${at.line}` : ''} is not valid YAML or JSON: ${first.message.split('\n')[0]}`);
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) throw userError('InvalidInput', `${file} is empty: a spec starts with apiVersion: mlops/v1, kind: Model, name: <model>`);
  const parsed = modelSpecSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw userError('InvalidInput', `Invalid spec ${file}:\n${describeIssues(parsed.error, doc, lines, file)}`);
}

function describeIssues(error: z.ZodError, doc: Document, lines: LineCounter, file: string): string {
  const at = (path: string[]) => {
    const line = lineOf(doc, lines, path);
    return `${file}${line ? `:${line}` : ''} ${path.length ? `${path.join('.')}: ` : ''}`;
  };
  return error.issues
    .flatMap((issue) => {
      const path = issue.path.map(String);
      // One line per unknown key, at the key itself.
      if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => `  - ${at([...path, k])}unknown key`);
      return [`  - ${at(path)}${issue.message}`];
    })
    .join('\n');
}

/** The line of the deepest node along `path` that the file has (a missing key: its parent's). */
function lineOf(doc: Document, lines: LineCounter, path: string[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n).map(keyOf), true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

/** Sequence indices are numbers in the document's path; zod reports them as numbers too. */
function keyOf(segment: string): string | number {
  return /^\d+$/.test(segment) ? Number(segment) : segment;
}
