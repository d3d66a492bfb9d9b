// `npm run token -- --user alice [--admin] [--name Alice] [--expires 12h]`: mints a JWT the
// server accepts (JWT_SECRET, or the development secret under DATA_DIR).
import { parseArgs } from 'node:util';
import { createAuthenticator } from '../auth/jwt.js';
import { loadConfig } from '../config/config.js';
import { isChatboxError } from '../errors.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      user: { type: 'string' },
      name: { type: 'string' },
      admin: { type: 'boolean', default: false },
      expires: { type: 'string', default: '12h' },
    },
  });
  if (values.user === undefined || values.user === '') {
    process.stderr.write('usage: npm run token -- --user <id> [--name <display name>] [--admin] [--expires 12h]\n');
    process.exit(2);
  }
  const config = loadConfig(process.env);
  const auth = createAuthenticator(config.jwtSecret);
  const token = await auth.mint(
    {
      userId: values.user,
      ...(values.name === undefined ? {} : { name: values.name }),
      roles: values.admin ? ['user', 'admin'] : ['user'],
    },
    values.expires,
  );
  process.stdout.write(`${token}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`token: ${isChatboxError(error) ? error.message : String(error)}\n`);
  process.exit(1);
});
