// The floors hold in the real tree: engine ← provider ← middleware ← server/cli (middleware through
// provider/index.ts only), and native core ← cpu/cuda/kv ← model ← press ← addon. A failure lists every
// violating import, with its file and line.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatViolation, nativeLayeringViolations, relativeImportsOf, tsLayeringViolations, type SourceFile } from './helpers/layering-rules.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Every file under `dir` whose name passes `keep`, with paths relative to `base`. */
function sourcesUnder(base: string, dir: string, keep: (name: string) => boolean): SourceFile[] {
  const out: SourceFile[] = [];
  const walk = (rel: string) => {
    for (const entry of readdirSync(path.join(base, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(child);
      else if (keep(entry.name)) out.push({ path: child, text: readFileSync(path.join(base, child), 'utf8') });
    }
  };
  walk(dir);
  return out;
}

describe('layering of the source tree', () => {
  it('TypeScript floors import only downwards, and middleware sees the provider through its entry', () => {
    const files = ['engine', 'provider', 'middleware', 'server', 'cli'].flatMap((dir) => sourcesUnder(root, dir, (n) => n.endsWith('.ts')));
    expect(files.length).toBeGreaterThan(50);
    expect(tsLayeringViolations(files).map(formatViolation)).toEqual([]);
  });

  it('native directories include only downwards', () => {
    const nativeSrc = path.join(root, 'native', 'src');
    const files = sourcesUnder(nativeSrc, '', (n) => /\.(h|hpp|cc|cpp|cu|cuh)$/.test(n));
    expect(files.length).toBeGreaterThan(50);
    expect(nativeLayeringViolations(files).map(formatViolation)).toEqual([]);
  });
});

describe('layering checker', () => {
  it('finds each kind of TypeScript import that climbs a floor, and nothing in comments or strings', () => {
    const files: SourceFile[] = [
      { path: 'engine/model.ts', text: "import { x } from '../provider/index.js';\n" },
      {
        path: 'provider/call.ts',
        text: [
          "// import { a } from '../server/a.js';",
          "const s = \"import { b } from '../server/b.js'\";",
          'import type {',
          '  C,',
          "} from '../middleware/c.js';",
          "export * from '../cli/d.js';",
          "type E = import('../server/e.js').E;",
          "import { f } from '../engine/f.js';",
          "import { g } from './g.js';",
        ].join('\n'),
      },
      {
        path: 'middleware/mw.ts',
        text: "import { ok } from '../provider/index.js';\nimport { deep } from '../provider/prepare-call.js';\nconst m = await import('../server/app.js');\n",
      },
      { path: 'server/app.ts', text: "import { p } from '../provider/prepare-call.js';\nimport { c } from '../cli/args.js';\n" },
      { path: 'cli/serve.ts', text: "import { s } from '../server/serve.js';\n" },
    ];
    expect(tsLayeringViolations(files).map((v) => `${v.file}:${v.line} ${v.target}`)).toEqual([
      'engine/model.ts:1 ../provider/index.js',
      'provider/call.ts:5 ../middleware/c.js',
      'provider/call.ts:6 ../cli/d.js',
      'provider/call.ts:7 ../server/e.js',
      'middleware/mw.ts:2 ../provider/prepare-call.js',
      'middleware/mw.ts:3 ../server/app.js',
    ]);
  });

  it('reads static, re-exported and dynamic relative imports', () => {
    const file = { path: 'x/y.ts', text: "import 'node:fs';\nimport './side.js';\nexport { a } from '../a.js';\nawait import('./lazy.js');\n" };
    expect(relativeImportsOf(file)).toEqual([
      { specifier: './side.js', line: 2 },
      { specifier: '../a.js', line: 3 },
      { specifier: './lazy.js', line: 4 },
    ]);
  });

  it('finds native includes that climb a floor', () => {
    const files: SourceFile[] = [
      { path: 'core/json.cc', text: '#include "core/json.h"\n#include "cpu/kernels.h"\n#include <vector>\n#include "local.h"\n' },
      { path: 'kv/cache.h', text: '#include "core/dtype.h"\n#include "cuda/x.h"\n  #  include "model/llama.h"\n' },
      { path: 'cpu/k.cc', text: '#include "addon/registry.h"\n' },
      { path: 'model/llama.cc', text: '#include "kv/cache.h"\n#include "press/base.h"\n' },
      { path: 'press/base.cc', text: '#include "model/llama.h"\n#include "addon/js-reply.h"\n' },
      { path: 'addon/addon.cc', text: '#include "press/base.h"\n#include "model/llama.h"\n' },
    ];
    expect(nativeLayeringViolations(files).map((v) => `${v.file}:${v.line} ${v.target}`)).toEqual([
      'core/json.cc:2 cpu/kernels.h',
      'kv/cache.h:3 model/llama.h',
      'cpu/k.cc:1 addon/registry.h',
      'model/llama.cc:2 press/base.h',
      'press/base.cc:2 addon/js-reply.h',
    ]);
  });
});
