// A model path that is neither a regular file nor a directory (a FIFO, /dev/zero) is refused by its kind before
// it is opened; reading one would block, or stream, forever.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../engine/errors.js';
import { Model } from '../engine/model.js';
import { readModelFiles } from '../engine/model-files.js';
import { cli } from './helpers/cli.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'presskv-path-kind-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const fifo = path.join(tmp, 'model.gguf');
execFileSync('mkfifo', [fifo]);

// A hang is the bug: each of these must settle well inside this.
const QUICK_MS = 5_000;

describe('a model path that is not a regular file or directory', () => {
  it('Model.load(fifo) rejects with InvalidArgumentError saying so', { timeout: QUICK_MS }, async () => {
    const err = await Model.load(fifo).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toContain(`${fifo} is not a regular file or directory (it is a FIFO (named pipe))`);
  });

  it('readModelFiles(fifo) refuses it too (its callers need not resolve the path first)', { timeout: QUICK_MS }, async () => {
    await expect(readModelFiles(fifo)).rejects.toThrow(/is not a regular file or directory/);
  });

  it('a directory whose one .gguf is a FIFO is refused the same way', { timeout: QUICK_MS }, async () => {
    const dir = path.join(tmp, 'dir');
    mkdirSync(dir);
    execFileSync('mkfifo', [path.join(dir, 'only.gguf')]);
    const err = await Model.load(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(/only\.gguf is not a regular file or directory/);
  });

  it.skipIf(!existsSync('/dev/zero'))('a character device (/dev/zero) is refused', { timeout: QUICK_MS }, async () => {
    const err = await Model.load('/dev/zero').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toContain('(it is a character device)');
  });

  it('the CLI exits 1 with that message', { timeout: QUICK_MS }, async () => {
    const r = await cli('generate', '--model', fifo, '--prompt', 'x');
    expect(r.code).toBe(1);
    expect(r.err).toContain(`presskv generate: ${fifo} is not a regular file or directory`);
  });
});
