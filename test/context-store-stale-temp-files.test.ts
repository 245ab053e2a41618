// A crash between a context file's temp write and its rename leaves `.ctx_<id>.pkvctx.<pid>.<hex>.tmp` in the
// cacheDir. Opening a store (and so starting the server) removes those — only names in the store's own temp
// form whose writer is gone — while context files, other files and a live writer's temp files stay.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTEXT_FILE_EXTENSION } from '../engine/context-file.js';
import { ContextStore } from '../engine/context-store.js';
import { Model } from '../engine/model.js';
import { startServer } from '../server/serve.js';
import { tinyModelPath } from './helpers/tiny-models.js';

const dirs: string[] = [];
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'presskv-stale-tmp-'));
  dirs.push(dir);
  return dir;
};

let modelPath: string;
let model: Model;
beforeAll(async () => {
  modelPath = await tinyModelPath({ arch: 'qwen3', format: 'gguf' });
  model = await Model.load(modelPath, { threads: 1 });
});
afterAll(async () => {
  model?.dispose();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** The pid of a process that has already exited: its temp files can only be leftovers. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

const tempName = (id: string, pid: number) => `.${id}${CONTEXT_FILE_EXTENSION}.${pid}.0123456789ab.tmp`;

describe('stale context temp files', () => {
  it('are removed when a store opens its cacheDir; context files and lookalikes stay', async () => {
    const cacheDir = await tempDir();
    const first = new ContextStore(model, { cacheDir });
    const created = await first.create({ tokenIds: model.tokenizer.encode('A story about a fox and a crow.') });
    await first.dispose();
    const contextFile = `${created.id}${CONTEXT_FILE_EXTENSION}`;

    const stale = [tempName(created.id, deadPid()), tempName(`ctx_${'b'.repeat(32)}`, process.pid)];
    const kept = [
      contextFile,
      tempName(`ctx_${'c'.repeat(32)}`, process.ppid), // a live process (the test runner's parent) may be writing it
      'notes.tmp',
      `.${created.id}${CONTEXT_FILE_EXTENSION}.tmp`,
      `.other${CONTEXT_FILE_EXTENSION}.${deadPid()}.0123456789ab.tmp`,
    ];
    for (const name of [...stale, ...kept.slice(1)]) await writeFile(join(cacheDir, name), 'half-written');
    expect((await readdir(cacheDir)).sort()).toEqual([...stale, ...kept].sort());

    const reopened = new ContextStore(model, { cacheDir });
    try {
      await reopened.ready;
      expect((await readdir(cacheDir)).sort()).toEqual([...kept].sort());
      // The real context is still there and usable after the clean-up.
      expect((await reopened.list()).map((c) => c.id)).toEqual([created.id]);
      const answer = await reopened.generate(created.id, model.tokenizer.encode(' Then'), { maxTokens: 2, temperature: 0 });
      expect(answer.generatedTokenIds.length).toBeGreaterThan(0);
    } finally {
      await reopened.dispose();
    }
  });

  it('are gone once the server has started on that --cache-dir', async () => {
    const cacheDir = await tempDir();
    const leftover = join(cacheDir, tempName(`ctx_${'d'.repeat(32)}`, deadPid()));
    await writeFile(leftover, 'half-written');
    const server = await startServer({ model: modelPath, port: 0, cacheDir, load: { threads: 1 } });
    try {
      expect(existsSync(leftover)).toBe(false);
    } finally {
      await server.close();
    }
  });
});
