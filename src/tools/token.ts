// `npm run token -- --user alice [--admin] [--name Alice] [--expires 12h]`: mints a JWT the
// server accepts (JWT_SECRET, or the development secret under DATA_DIR). Every token it makes
// has an `exp` (the server refuses tokens without one) within JWT_MAX_TTL_S when that is set.
import { parseArgs } from 'node:util';
import { createAuthenticator } from '../auth/jwt.js';
import { loadConfig } from '../config/config.js';
import { isChatboxError } from '../errors.js';

const USAGE = 'usage: npm run token -- --user <id> [--name <display name>] [--admin] [--expires <30m|12h|7d|seconds>]\n';
const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Lifetime in seconds from `90`, `30s`, `15m`, `12h` or `7d`; undefined when it is none of those. */
function parseLifetime(text: string): number | undefined {
  const m = /^(\d{1,7})([smhd]?)$/.exec(text.trim());
  if (m === null) return undefined;
  const seconds = Number(m[1]) * (UNIT_SECONDS[m[2] === '' ? 's' : (m[2] as string)] ?? 1);
  return seconds > 0 ? seconds : undefined;
}

function usage(problem?: string): never {
  process.stderr.write(`${problem === undefined ? '' : `token: ${problem}\n`}${USAGE}`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        user: { type: 'string' },
        name: { type: 'string' },
        admin: { type: 'boolean', default: false },
        expires: { type: 'string', default: '12h' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    usage(error instanceof Error ? error.message : String(error));
  }
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (values.user === undefined || values.user === '') usage('--user is required');
  const lifetime = parseLifetime(values.expires);
  if (lifetime === undefined) usage(`--expires ${JSON.stringify(values.expires)} is not a lifetime like 30m, 12h or 7d`);
  const config = loadConfig(process.env);
  const maxTtl = config.jwtMaxTtlSeconds;
  if (maxTtl !== undefined && lifetime > maxTtl) usage(`--expires is longer than JWT_MAX_TTL_S (${maxTtl} s)`);
  const auth = createAuthenticator(config.jwtSecret, { maxTtlSeconds: maxTtl });
  const token = await auth.mint(
    {
      userId: values.user,
      ...(values.name === undefined ? {} : { name: values.name }),
      roles: values.admin ? ['user', 'admin'] : ['user'],
    },
    lifetime,
  );
  process.stdout.write(`${token}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`token: ${isChatboxError(error) ? error.message : String(error)}\n`);
  process.exit(1);
});
