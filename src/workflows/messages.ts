/** @deprecated Moved to src/api/registry.ts (one API module per workflow); kept so code written against the old path still compiles. */
export * from '../api/registry';
