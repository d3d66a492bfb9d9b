// Shared pieces for reading environment variables with zod, so every component's settings
// behave alike: empty means unset, numbers are whole and bounded, messages name the rule.
import { z } from 'zod';

/** A whole number from an environment string, within [min, max]. */
export const envInt = (min: number, max: number) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` });

/** Drops unset and empty variables: in most deployment tools `FOO=` means "not set". */
export function cleanEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') cleaned[k] = v;
  return cleaned;
}

/** One line per zod issue, `  NAME: message`, for a start-up error. */
export const describeEnvIssues = (error: z.ZodError): string =>
  error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n');
