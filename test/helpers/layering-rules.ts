// The import rules between the source floors, checked on in-memory sources so that a test can prove the checker
// fails on a violation as well as run it over the real tree. TypeScript floors: engine ← provider ← middleware ←
// server/cli, and middleware sees the provider only through provider/index.ts (its public surface). Native floors
// (native/src): core ← cpu/cuda/kv ← model ← press ← addon.
import path from 'node:path';
import ts from 'typescript';

export interface SourceFile {
  /** Path from the checked root, '/'-separated: 'provider/context-call.ts', or 'model/llama.cc' under native/src. */
  path: string;
  text: string;
}

export interface Violation {
  file: string;
  line: number;
  target: string;
  rule: string;
}

export function formatViolation(v: Violation): string {
  return `${v.file}:${v.line} → ${v.target}: ${v.rule}`;
}

// Same rank = may import each other (the CLI starts the server).
const TS_FLOOR_RANK: Record<string, number> = { engine: 0, provider: 1, middleware: 2, server: 3, cli: 3 };
const PROVIDER_ENTRY = 'provider/index';

function lineAt(text: string, pos: number): number {
  let line = 1;
  for (let i = 0; i < pos; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Relative module specifiers of one TS file: static imports, `export … from`, and `import('…')` in code or types. */
export function relativeImportsOf(file: SourceFile): Array<{ specifier: string; line: number }> {
  // TypeScript's own pre-scanner: it skips comments and strings, which a regex would not.
  const { importedFiles } = ts.preProcessFile(file.text, true, true);
  return importedFiles.filter((f) => f.fileName.startsWith('.')).map((f) => ({ specifier: f.fileName, line: lineAt(file.text, f.pos) }));
}

function floorOf(filePath: string): string | undefined {
  const top = filePath.split('/')[0]!;
  return top in TS_FLOOR_RANK && filePath.includes('/') ? top : undefined;
}

export function tsLayeringViolations(files: readonly SourceFile[]): Violation[] {
  const violations: Violation[] = [];
  for (const file of files) {
    const from = floorOf(file.path);
    if (from === undefined) continue;
    for (const { specifier, line } of relativeImportsOf(file)) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file.path), specifier));
      const to = floorOf(target);
      if (to === undefined || to === from) continue;
      if (TS_FLOOR_RANK[to]! > TS_FLOOR_RANK[from]!) {
        violations.push({ file: file.path, line, target: specifier, rule: `${from}/ must not import from ${to}/ (a higher floor)` });
      } else if (from === 'middleware' && to === 'provider' && target.replace(/\.(js|ts)$/, '') !== PROVIDER_ENTRY) {
        violations.push({ file: file.path, line, target: specifier, rule: 'middleware/ imports the provider only through provider/index.js' });
      }
    }
  }
  return violations;
}

// What each native directory must not include; a directory not listed here is unchecked.
const NATIVE_FORBIDDEN: Record<string, (dir: string) => boolean> = {
  core: (dir) => dir !== 'core',
  cpu: (dir) => ['model', 'press', 'addon'].includes(dir),
  cuda: (dir) => ['model', 'press', 'addon'].includes(dir),
  kv: (dir) => ['model', 'press', 'addon'].includes(dir),
  model: (dir) => ['press', 'addon'].includes(dir),
  press: (dir) => dir === 'addon',
};

export function nativeLayeringViolations(files: readonly SourceFile[]): Violation[] {
  const violations: Violation[] = [];
  for (const file of files) {
    const from = file.path.split('/')[0]!;
    const forbidden = NATIVE_FORBIDDEN[from];
    if (!forbidden || !file.path.includes('/')) continue;
    file.text.split('\n').forEach((text, i) => {
      // Quoted includes name a path under native/src; one without a directory is a neighbour in the same one.
      const m = /^\s*#\s*include\s*"([^"]+)"/.exec(text);
      if (!m || !m[1]!.includes('/')) return;
      const dir = m[1]!.split('/')[0]!;
      if (forbidden(dir)) violations.push({ file: file.path, line: i + 1, target: m[1]!, rule: `${from}/ must not include ${dir}/` });
    });
  }
  return violations;
}
