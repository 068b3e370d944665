/**
 * What `mlops` exits with, so scripts and CI can branch on the outcome (documented in the README):
 * a command that did its job and whose answer is "no" — a promotion rejected, gates failed, an
 * alert raised — is neither a success nor an error.
 */
export const EXIT = {
  /** Done; promoted, passed, nothing to report. */
  ok: 0,
  /** Something went wrong, or the input cannot be used; the message says what to change. */
  error: 1,
  /** The command line itself: unknown command or option, missing argument. */
  usage: 2,
  /** Done, and the answer is no: rejected, gates failed, alert raised, threshold crossed, not improved. */
  no: 3,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
