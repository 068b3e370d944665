import { z } from 'zod';

/**
 * Dataset and model names become folder names in the artifact store and object-store prefixes,
 * so they are held to a portable, traversal-proof alphabet instead of being sanitized silently.
 */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

export const resourceName = (what: string) =>
  z.string().refine((s) => NAME_PATTERN.test(s) && !s.includes('..'), {
    message: `${what} name must be 1-100 characters of letters, digits, '_', '-' or '.', ` + "start with a letter or digit, and not contain '..'",
  });

export const datasetName = resourceName('dataset');
export const modelName = resourceName('model');
