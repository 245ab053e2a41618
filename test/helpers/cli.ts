// Runs the presskv CLI's main() in-process and captures what it prints (tests of the commands).
import { main } from '../../cli/main.js';

export async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (l) => (out += `${l}\n`), err: (l) => (err += `${l}\n`), write: (t) => (out += t) });
  return { code, out, err };
}
