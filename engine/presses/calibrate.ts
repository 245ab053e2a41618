// `presskv calibrate`: computes a press artefact (native/src/press/artefacts.h formats) from calibration text
// with the model itself. The text is tokenised here, cut into chunks that fit the context window (each one a
// fresh prefill, BOS first when the tokenizer adds one), and the native engine gathers the query statistics
// during its own layer-major prefill (native/src/press/calibration.h: what each kind computes and why).
import { resolveModelPath } from '../hub.js';
import { InvalidArgumentError } from '../errors.js';
import { writeSafetensors } from '../make-model/safetensors-writer.js';
import { readModelFiles } from '../model-files.js';
import { callNative, nativeAddon, type NativeModelHandle } from '../native.js';
import { loadTokenizer } from '../tokenizer.js';
import { writeFile } from 'node:fs/promises';

export const CALIBRATION_KINDS = ['expected-attention-stats', 'qfilter', 'duo-attention'] as const;
export type CalibrationKind = (typeof CALIBRATION_KINDS)[number];

export interface CalibrateOptions {
  kind: CalibrationKind;
  /** Artefact file to write (safetensors for the statistics and Q-filters, JSON for duo-attention). */
  out: string;
  /** Tokens per chunk, BOS included (default: min(context window, 2048)). */
  chunkTokens?: number;
  /** Leading positions of each chunk left out of the query statistics (kvpress n_sink, default 4). */
  nSink?: number;
  /** DuoAttention pattern's sink and recent window (kvpress on-the-fly defaults: 128, 256). */
  sinkSize?: number;
  recentSize?: number;
  threads?: number;
}

export interface CalibrationReport {
  kind: CalibrationKind;
  out: string;
  tokens: number;
  chunks: number;
  /** Query rows that went into the statistics, per layer. */
  samples: number[];
}

/** What the native `calibrate` entry returns (native/src/addon/calibrate-handle.cc). */
export interface NativeCalibration {
  kind: CalibrationKind;
  chunks: number;
  samples: number[];
  queryMean?: Float32Array;
  queryCov?: Float32Array;
  qFilters?: Float32Array;
  headScores?: Float32Array;
}

interface CalibrateAddon {
  loadModel(spec: unknown, options?: { threads?: number }): NativeModelHandle;
  calibrate(model: NativeModelHandle, chunks: Int32Array[], options: { kind: CalibrationKind; nSink: number }): NativeCalibration;
}

function positiveInt(value: number | undefined, what: string, min = 1): void {
  if (value !== undefined && (!Number.isInteger(value) || value < min)) throw new InvalidArgumentError(`calibrate: ${what} must be an integer ≥ ${min}, got ${value}`);
}

/** Cuts token ids into chunks of at most chunkTokens, each led by BOS when one is given. */
export function calibrationChunks(ids: readonly number[], chunkTokens: number, bos?: number): Int32Array[] {
  const body = bos === undefined ? chunkTokens : chunkTokens - 1;
  if (body < 1) throw new InvalidArgumentError(`calibrate: chunkTokens ${chunkTokens} leaves no room for text`);
  const chunks: Int32Array[] = [];
  for (let start = 0; start < ids.length; start += body) {
    const piece = ids.slice(start, start + body);
    chunks.push(Int32Array.from(bos === undefined ? piece : [bos, ...piece]));
  }
  return chunks;
}

/** Runs the native statistics over already chunked tokens on a loaded model handle. */
export function runCalibration(model: NativeModelHandle, chunks: Int32Array[], kind: CalibrationKind, nSink = 4): NativeCalibration {
  if (!CALIBRATION_KINDS.includes(kind)) throw new InvalidArgumentError(`calibrate: kind must be one of ${CALIBRATION_KINDS.join(', ')}, got '${String(kind)}'`);
  positiveInt(nSink, 'nSink', 0);
  const addon = nativeAddon() as unknown as Partial<CalibrateAddon>;
  if (typeof addon.calibrate !== 'function') throw new InvalidArgumentError('calibrate: this build of the native addon has no calibrate entry');
  return callNative(() => addon.calibrate!(model, chunks, { kind, nSink }));
}

/** Writes the artefact of a calibration run in the format its press reads. */
export async function writeCalibrationArtefact(
  out: string,
  result: NativeCalibration,
  shape: { nLayers: number; nHeads: number; nKvHeads: number; headDim: number },
  duo: { sinkSize?: number; recentSize?: number } = {},
): Promise<void> {
  const { nLayers: L, nHeads: H, nKvHeads: Hk, headDim: d } = shape;
  const tensor = (name: string, dims: number[], data: Float32Array) => {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return { name, dtype: 'f32' as const, shape: dims, nbytes: bytes.byteLength, chunks: () => [bytes] };
  };
  if (result.kind === 'expected-attention-stats') {
    await writeSafetensors(out, [tensor('query_mean', [L, H, d], result.queryMean!), tensor('query_cov', [L, H, d, d], result.queryCov!)]);
  } else if (result.kind === 'qfilter') {
    await writeSafetensors(out, [tensor('q_filters', [L, Hk, d], result.qFilters!)]);
  } else {
    const scores = result.headScores!;
    const headScores = Array.from({ length: L }, (_x, l) => Array.from(scores.subarray(l * Hk, (l + 1) * Hk)));
    await writeFile(out, `${JSON.stringify({ sinkSize: duo.sinkSize ?? 128, recentSize: duo.recentSize ?? 256, headScores })}\n`);
  }
}

/** Tokenises the text with the model's tokenizer, runs the calibration and writes options.out. */
export async function calibrate(modelPathOrId: string, text: string, options: CalibrateOptions): Promise<CalibrationReport> {
  if (!CALIBRATION_KINDS.includes(options.kind)) {
    throw new InvalidArgumentError(`calibrate: kind must be one of ${CALIBRATION_KINDS.join(', ')}, got '${String(options.kind)}'`);
  }
  if (typeof text !== 'string' || text.length === 0) throw new InvalidArgumentError('calibrate: the calibration text is empty');
  positiveInt(options.chunkTokens, 'chunkTokens', 2);
  positiveInt(options.nSink, 'nSink', 0);
  positiveInt(options.sinkSize, 'sinkSize', 0);
  positiveInt(options.recentSize, 'recentSize', 0);
  positiveInt(options.threads, 'threads');
  const files = await readModelFiles(await resolveModelPath(modelPathOrId));
  const config = files.spec.config;
  const chunkTokens = options.chunkTokens ?? Math.min(config.contextLength, 2048);
  if (chunkTokens > config.contextLength) {
    throw new InvalidArgumentError(`calibrate: chunkTokens ${chunkTokens} exceeds the model's context window (${config.contextLength})`);
  }
  const tokenizer = await loadTokenizer(files);
  const ids = tokenizer.encode(text, { addSpecialTokens: false });
  if (ids.length === 0) throw new InvalidArgumentError('calibrate: the calibration text has no tokens');
  const chunks = calibrationChunks(ids, chunkTokens, tokenizer.addBos ? tokenizer.bosTokenId : undefined);
  const addon = nativeAddon() as unknown as CalibrateAddon;
  const handle = callNative(() => addon.loadModel(files.spec, { threads: options.threads }));
  try {
    const result = runCalibration(handle, chunks, options.kind, options.nSink ?? 4);
    await writeCalibrationArtefact(options.out, result, config, options);
    return { kind: options.kind, out: options.out, tokens: ids.length, chunks: result.chunks, samples: result.samples };
  } finally {
    handle.dispose();
  }
}
