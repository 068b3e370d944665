import { rootApplicationFailure } from '../errors';

/** The message a person needs: the root ApplicationFailure of a failed workflow, not the wrapper chain. */
export function describeError(err: unknown): string {
  const root = rootApplicationFailure(err);
  if (root) return `${root.type ?? 'Error'}: ${root.message}`;
  if (err instanceof Error) return err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message;
  return String(err);
}
