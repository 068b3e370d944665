import { DefaultFailureConverter } from '@temporalio/common';

/**
 * Loaded by path (into the workflow bundle too) when payload encryption is on: failure messages
 * and stack traces move into an encoded payload, so error texts, which can quote data values
 * (a contract violation's sample rows, a trainer's output), are encrypted at rest as well.
 */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
