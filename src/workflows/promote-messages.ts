/** @deprecated Moved to src/api/promote.ts (one API module per workflow); kept so code written against the old path still compiles. */
export * from '../api/promote';
