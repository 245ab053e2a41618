// The test-only native addon (native/test/, built beside the shipped one as presskv-testing.node): the
// press harness entries that run one press, or a whole press pipeline, on plain arrays. Never shipped,
// so the shipped addon carries no test harness; a missing build is an error, not a skip.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const DEFAULT_PATH = fileURLToPath(new URL('../../build/Release/presskv-testing.node', import.meta.url));

let cached: Record<string, unknown> | undefined;

export function testingAddon<T>(): T {
  if (!cached) {
    const path = process.env.PRESSKV_TESTING_ADDON || DEFAULT_PATH;
    if (!existsSync(path)) throw new Error(`the test-only addon ${path} is missing: run \`npm run build:native\``);
    cached = createRequire(import.meta.url)(path) as Record<string, unknown>;
  }
  return cached as T;
}
