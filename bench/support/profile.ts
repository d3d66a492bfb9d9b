// `--cpu-prof` flags for a benchmark's child process when `envName` names a directory: the
// child writes a V8 CPU profile there when it exits (open it in Chrome DevTools).
export function cpuProfileArgs(envName: string): string[] {
  const dir = process.env[envName];
  return dir === undefined || dir === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}
