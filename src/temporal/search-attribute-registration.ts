import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTE_FLAGS } from './search-attributes';

const INDEXED_VALUE_TYPES: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  Keyword: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  Bool: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
};

/**
 * Our search attributes, added to the namespace where missing, through the operator API: for
 * servers that take no `--search-attribute` flags (the official server on SQL visibility, the
 * Java time-skipping test server). Workflows that upsert an unknown one fail their tasks.
 */
export async function addMissingSearchAttributes(connection: Pick<Connection, 'operatorService'>, namespace: string): Promise<void> {
  // The Java test server cannot list them (UNIMPLEMENTED): it has none but the ones added here.
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace }).catch((err: { code?: number }) => {
    if (err.code === 12) return { customAttributes: undefined };
    throw err;
  });
  const missing = SEARCH_ATTRIBUTE_FLAGS.map((flag) => flag.split('=') as [string, string]).filter(([name]) => !(customAttributes && name in customAttributes));
  if (missing.length) {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, INDEXED_VALUE_TYPES[type]!])) });
  }
}
