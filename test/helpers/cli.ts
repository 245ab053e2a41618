// Runs the presskv CLI's main() in-process and captures what it prints (tests of the commands), or bin/presskv.js
// in a child process.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { main } from '../../cli/main.js';

export async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (l) => (out += `${l}\n`), err: (l) => (err += `${l}\n`), write: (t) => (out += t) });
  return { code, out, err };
}

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const runFile = promisify(execFile);

/** Runs bin/presskv.js as a user would, in a child process whose stdout and stderr are pipes (not terminals). */
export async function bin(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await runFile(process.execPath, [path.join(repoRoot, 'bin', 'presskv.js'), ...argv], { cwd: repoRoot, maxBuffer: 1 << 24 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}
