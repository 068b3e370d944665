import { Worker } from 'node:worker_threads';

/**
 * Starts a worker thread running one of our modules. Under tsx (tests, CLI, `npm run …`) the
 * module is TypeScript, so the thread first registers tsx's require hook; the compiled build
 * loads the .js file directly.
 */
export function startModuleThread(modulePath: string, workerData: unknown): Worker {
  if (modulePath.endsWith('.ts')) {
    // Resolved here: an eval'd thread resolves bare names from the current directory, not from us.
    const source = `require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(modulePath)});`;
    return new Worker(source, { eval: true, workerData });
  }
  return new Worker(modulePath, { workerData });
}
