import * as fs from 'node:fs';
import * as path from 'node:path';
import { modelSpecJsonSchema } from '../src/spec/schema';

/**
 * Writes docs/model-spec.schema.json from the zod schema the CLI validates with, so editors check
 * spec files against exactly that (test/spec.test.ts fails when the file is out of date).
 */
export const SPEC_SCHEMA_FILE = path.resolve(__dirname, '../docs/model-spec.schema.json');

export function specSchemaText(): string {
  return `${JSON.stringify(modelSpecJsonSchema(), null, 2)}\n`;
}

if (require.main === module) {
  fs.writeFileSync(SPEC_SCHEMA_FILE, specSchemaText());
  console.log(`wrote ${path.relative(process.cwd(), SPEC_SCHEMA_FILE)}`);
}
