// Checks on the artefact files some presses read (Q-filters, query statistics, DuoAttention patterns, KVzap
// and FastKVzip weights, LU-KV budget curves) so that a missing or malformed file fails before any work.
// The native loaders (native/src/press/) read the same formats; docs/PRESSES.md describes them.
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { CorruptModelError, ModelNotFoundError } from '../errors.js';
import { readSafetensorsHeader, type SafetensorsHeader, type SafetensorsTensor } from '../safetensors.js';

/** Fails with ERR_NOT_FOUND when the artefact file is absent (called when the press is created). */
export function requireArtefactFile(owner: string, path: string): void {
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch (err) {
    throw new ModelNotFoundError(`${owner}: artefact file not found: ${path}`, { cause: err });
  }
  if (!isFile) throw new ModelNotFoundError(`${owner}: artefact path is not a file: ${path}`);
}

/** A tensor shape to expect; `null` entries accept any size. */
export type ExpectedShape = readonly (number | null)[];

function shapeMatches(actual: readonly number[], expected: ExpectedShape): boolean {
  return actual.length === expected.length && expected.every((e, i) => e === null || e === actual[i]);
}

function showShape(shape: ExpectedShape): string {
  return `[${shape.map((e) => (e === null ? '*' : e)).join(', ')}]`;
}

/** Float dtypes the native artefact reader converts to f32. */
const ARTEFACT_DTYPES = new Set(['F32', 'F16', 'BF16']);

/** Reads a safetensors artefact's header; every listed tensor must exist, be F32/F16/BF16 and have the expected shape. */
export async function checkSafetensorsArtefact(
  owner: string,
  path: string,
  expected: Readonly<Record<string, ExpectedShape>>,
): Promise<SafetensorsHeader> {
  let header: SafetensorsHeader;
  try {
    header = await readSafetensorsHeader(path);
  } catch (err) {
    const e = err as Error;
    if (e instanceof ModelNotFoundError) throw new ModelNotFoundError(`${owner}: ${e.message}`, { cause: err });
    throw new CorruptModelError(`${owner}: malformed artefact ${path}: ${e.message}`, { cause: err });
  }
  const byName = new Map<string, SafetensorsTensor>(header.tensors.map((t) => [t.name, t]));
  for (const [name, shape] of Object.entries(expected)) {
    const t = byName.get(name);
    if (!t) {
      const have = header.tensors.map((x) => x.name).slice(0, 8).join(', ') || 'none';
      throw new CorruptModelError(`${owner}: malformed artefact ${path}: tensor "${name}" is missing (has: ${have})`);
    }
    if (!ARTEFACT_DTYPES.has(t.dtype)) {
      throw new CorruptModelError(`${owner}: malformed artefact ${path}: tensor "${name}" is ${t.dtype}, expected F32, F16 or BF16`);
    }
    if (!shapeMatches(t.shape, shape)) {
      throw new CorruptModelError(
        `${owner}: malformed artefact ${path}: tensor "${name}" has shape [${t.shape.join(', ')}], expected ${showShape(shape)}`,
      );
    }
  }
  return header;
}

/** Reads a JSON artefact; a parse failure is a CorruptModelError naming the file. */
export async function readJsonArtefact(owner: string, path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ModelNotFoundError(`${owner}: artefact file not found or unreadable: ${path}`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CorruptModelError(`${owner}: malformed artefact ${path}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
}

export function malformed(owner: string, path: string, what: string): CorruptModelError {
  return new CorruptModelError(`${owner}: malformed artefact ${path}: ${what}`);
}
