import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * The search attributes that make the Web UI a console: filter by model or dataset, by stage,
 * and list everything that waits for a person. Registered on the dev server by our scripts.
 */
export const MlopsModel = defineSearchAttributeKey('MlopsModel', SearchAttributeType.KEYWORD);
export const MlopsDataset = defineSearchAttributeKey('MlopsDataset', SearchAttributeType.KEYWORD);
export const MlopsStage = defineSearchAttributeKey('MlopsStage', SearchAttributeType.KEYWORD);
export const MlopsNeedsAttention = defineSearchAttributeKey('MlopsNeedsAttention', SearchAttributeType.BOOL);

/** `name=Type` pairs as `temporal server start-dev --search-attribute` takes them. */
export const SEARCH_ATTRIBUTE_FLAGS = ['MlopsModel=Keyword', 'MlopsDataset=Keyword', 'MlopsStage=Keyword', 'MlopsNeedsAttention=Bool'] as const;
