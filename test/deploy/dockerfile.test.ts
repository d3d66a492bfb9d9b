// Dockerfile and .dockerignore. No Docker engine runs here, so the image is not built; instead
// the file is read as data and held to what the rest of the repository says: the build and
// start commands of package.json, the files it copies, the user and port of the Deployment.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './support.js';

interface Instruction {
  readonly op: string;
  readonly args: string;
}
interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly steps: Instruction[];
}

/** Instructions with continuation lines joined and comments dropped, grouped by stage. */
function parseDockerfile(text: string): Stage[] {
  const joined = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  const stages: Stage[] = [];
  for (const line of joined.split('\n')) {
    const m = /^\s*([A-Z]+)\s+(.*)$/.exec(line);
    if (m === null) continue;
    const op = m[1] as string;
    const args = (m[2] as string).trim();
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(args);
      stages.push({ from: f?.[1] as string, name: f?.[2], steps: [] });
    } else {
      stages.at(-1)?.steps.push({ op, args });
    }
  }
  return stages;
}

const dockerfile = readFileSync(resolve(REPO_ROOT, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(dockerfile);
const final = stages.at(-1) as Stage;
const pkg = JSON.parse(readFileSync(resolve(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
const runs = (s: Stage) => s.steps.filter((i) => i.op === 'RUN').map((i) => i.args);

describe('Dockerfile', () => {
  it('is multi-stage on a glibc Node image matching engines (uWebSockets.js ships glibc binaries)', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const arg = /^ARG NODE_VERSION=(\d+)$/m.exec(dockerfile)?.[1];
    expect(Number(arg)).toBeGreaterThanOrEqual(20);
    for (const s of stages) expect(s.from).toBe('node:${NODE_VERSION}-bookworm-slim');
  });

  it('builds the way `npm start` does and runs what it runs', () => {
    // npm start = `npm run build && node [flags] dist/main.js`: the build half runs in a builder stage,
    // the run half is the final CMD.
    const [build, run] = (pkg.scripts.start as string).split('&&').map((s) => s.trim());
    expect(build).toBe('npm run build');
    const builder = stages.find((s) => runs(s).includes('npm run build'));
    expect(builder).toBeDefined();
    expect(builder).not.toBe(final);
    expect(runs(builder as Stage).some((r) => r.startsWith('npm ci'))).toBe(true);
    const cmd = final.steps.find((i) => i.op === 'CMD')?.args;
    expect(JSON.parse(cmd as string)).toEqual((run as string).split(' '));
    // What the final stage copies out of the builder is what tsc writes.
    const tsBuild = JSON.parse(readFileSync(resolve(REPO_ROOT, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: { outDir: string; rootDir: string } };
    expect(final.steps).toContainEqual({ op: 'COPY', args: `--from=${builder?.name} /app/${tsBuild.compilerOptions.outDir} ./${tsBuild.compilerOptions.outDir}` });
    expect(existsSync(resolve(REPO_ROOT, tsBuild.compilerOptions.rootDir, 'main.ts'))).toBe(true);
  });

  it('ships production dependencies only, installed with `npm ci --omit=dev`', () => {
    const copied = final.steps.filter((i) => i.op === 'COPY' && i.args.includes('node_modules')).map((i) => /--from=(\S+)/.exec(i.args)?.[1]);
    expect(copied.length).toBe(1);
    const deps = stages.find((s) => s.name === copied[0]) as Stage;
    expect(runs(deps).some((r) => /^npm ci --omit=dev\b/.test(r))).toBe(true);
    expect(runs(final).some((r) => r.includes('npm ci') || r.includes('npm install'))).toBe(false);
  });

  it('runs as a numeric non-root user, the one the Deployment sets, with production settings', () => {
    const user = final.steps.filter((i) => i.op === 'USER').at(-1)?.args;
    expect(user).toMatch(/^\d+(:\d+)?$/);
    const uid = Number((user as string).split(':')[0]);
    expect(uid).toBeGreaterThan(0);
    const deployment = readFileSync(resolve(REPO_ROOT, 'deploy/kubernetes/deployment.yaml'), 'utf8');
    expect(deployment).toContain(`runAsUser: ${uid}`);
    const env = final.steps.filter((i) => i.op === 'ENV').map((i) => i.args).join(' ');
    expect(env).toContain('NODE_ENV=production');
    expect(env).toContain('PORT=8080');
    expect(env).toContain('DATA_DIR=/app/data');
    expect(deployment).toContain('mountPath: /app/data');
    expect(final.steps).toContainEqual({ op: 'EXPOSE', args: '8080' });
    expect(final.steps).toContainEqual({ op: 'STOPSIGNAL', args: 'SIGTERM' });
  });

  it('copies only files that exist, and .dockerignore keeps them in the context', () => {
    const sources = stages
      .flatMap((s) => s.steps)
      .filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources.sort()).toEqual(['package-lock.json', 'package-lock.json', 'package.json', 'package.json', 'package.json', 'src', 'tsconfig.build.json', 'tsconfig.json', 'vite.config.ts']);
    for (const s of sources) expect(existsSync(resolve(REPO_ROOT, s)), s).toBe(true);
    const ignored = readFileSync(resolve(REPO_ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    for (const s of new Set(sources)) expect(ignored, s).not.toContain(s);
    for (const must of ['node_modules', 'dist', 'data', '.git', '.env']) expect(ignored).toContain(must);
  });
});
