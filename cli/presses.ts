// `presskv presses`: the press catalogue — short name, class, kind and every option with its default.
import { parseArgs } from 'node:util';

import { readFile, writeFile } from 'node:fs/promises';
import { Model } from '../engine/model.js';
import { readModelFiles } from '../engine/model-files.js';
import { callNative, nativeAddon, type NativeModelHandle } from '../engine/native.js';
import { listPresses, type PressListing } from '../engine/presses/index.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCalibration, writeCalibrationArtefact } from '../engine/presses/calibrate.js';
import { evaluatePressQuality, qualityGap, renderQualityTable, type QualityArtefacts, type QualityStory } from '../engine/presses/quality.js';
import type { CommandIo, FlagOptions } from './args.js';
import { DEVICE_FLAG_USAGE, deviceFlag } from './device-flag.js';

const STORY_PROMPTS = ['Once upon a time', 'One day, a little girl', 'Tom and his dog', 'There was a big tree', 'Lily wanted to', 'The sun was shining'];

export const PRESSES_USAGE = `presskv presses [--json] [--kind scorer|wrapper|decoding|other]
presskv presses evaluate --model <model> [--ratios 0.25,0.5,0.75] [--stories 4] [--context 400]
                         [--continuation 48] [--press <name,...>] [--out docs/PRESSES.md] [--device <d>] [--json]

  --kind <kind>          list only the presses of this kind (default: all)
  --json                 print JSON (default: a table)

evaluate:
  --model <model>        the model that writes the stories and is measured
  --ratios <r,...>       compression ratios in (0, 1) (default 0.25,0.5,0.75)
  --stories <n>          stories to score (default 4, at most ${STORY_PROMPTS.length})
  --context <n>          context tokens of each story (default 400)
  --continuation <n>     held-out tokens scored after the context (default 48)
  --press <name,...>     the presses to evaluate (default: every press that can be)
  --out <file.md>        rewrite the "## Evaluation" section of this file (default: print only)
  ${DEVICE_FLAG_USAGE}
                         (for writing the stories; the scoring runs on the CPU)

Lists every press: its short name (for --press), kvpress class name, kind and options with defaults
(null = required or unset). A wrapper's inner press goes in --press-options as {"press": {"name": "snapkv"}}.
\`evaluate\` measures each press against the uncompressed cache: mean KL divergence and top-1 agreement of the
next-token distributions over held-out continuations of stories the model writes itself (seeded), the KV
bytes kept, and how many kept slots the selection's tie rule decided (score equal to the best dropped slot's;
JSON: tiedSlots per story, tiedShare of the kept slots); with --out it rewrites the "## Evaluation" section
of that markdown file.

Example: presskv presses --kind scorer
Example: presskv presses evaluate --model ./stories260K.gguf --ratios 0.5 --stories 2 --press snapkv`;

const USAGE = PRESSES_USAGE;

export const PRESSES_FLAGS = {
  json: { type: 'boolean', default: false },
  kind: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} satisfies FlagOptions;

export const EVALUATE_FLAGS = {
  model: { type: 'string' },
  ratios: { type: 'string', default: '0.25,0.5,0.75' },
  stories: { type: 'string', default: '4' },
  context: { type: 'string', default: '400' },
  continuation: { type: 'string', default: '48' },
  press: { type: 'string' },
  out: { type: 'string' },
  device: { type: 'string' },
  json: { type: 'boolean', default: false },
} satisfies FlagOptions;

function numberList(value: string, flag: string): number[] {
  const out = value.split(',').map((s) => Number(s.trim()));
  if (out.length === 0 || out.some((r) => !(r > 0 && r < 1))) throw new Error(`--${flag} takes ratios in (0, 1) separated by commas, got "${value}"`);
  return out;
}

function parseEvaluateArgs(argv: string[]) {
  const { values } = parseArgs({ args: argv, options: EVALUATE_FLAGS, strict: true });
  return { values, ratios: numberList(values.ratios!, 'ratios'), device: deviceFlag(values.device, USAGE) };
}

async function runEvaluate(argv: string[], io: Pick<CommandIo, 'out' | 'err'>): Promise<number> {
  let parsed: ReturnType<typeof parseEvaluateArgs>;
  try {
    parsed = parseEvaluateArgs(argv);
  } catch (err) {
    io.err(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, ratios, device } = parsed;
  if (!values.model) {
    io.err(`missing --model\n${USAGE}`);
    return 2;
  }
  const [stories, contextLength, continuationLength] = [values.stories!, values.context!, values.continuation!].map((v) => Number(v));
  if (![stories, contextLength, continuationLength].every((v) => Number.isInteger(v) && v > 0) || stories > STORY_PROMPTS.length) {
    io.err(`--stories (1..${STORY_PROMPTS.length}), --context and --continuation take positive integers\n${USAGE}`);
    return 2;
  }
  const presses = values.press?.split(',').map((s) => s.trim());
  const unknown = presses?.filter((p) => !listPresses().some((x) => x.name === p || x.className === p));
  if (unknown?.length) {
    io.err(`unknown press(es) ${unknown.join(', ')}; known: ${listPresses().map((p) => p.name).join(', ')}`);
    return 2;
  }
  const model = await Model.load(values.model, { threads: 1, device });
  const files = await readModelFiles(model.info.path);
  const handle = callNative(() => nativeAddon().loadModel(files.spec, { threads: 1 }));
  const artefactDir = await mkdtemp(join(tmpdir(), 'presskv-evaluate-'));
  try {
    const writeStory = async (i: number, seed: number) => {
      const prompt = model.tokenize(STORY_PROMPTS[i % STORY_PROMPTS.length]);
      const result = await model.generate(prompt, { maxTokens: contextLength + continuationLength, temperature: 0.8, seed, stopTokenIds: [] });
      return [...prompt, ...result.generatedTokenIds];
    };
    const texts: QualityStory[] = [];
    for (let i = 0; i < stories; i++) {
      const ids = await writeStory(i, 1 + i);
      const cut = ids.length - continuationLength;
      texts.push({ context: Int32Array.from(ids.slice(0, cut)), continuation: Int32Array.from(ids.slice(cut)) });
    }
    const artefacts = await calibrateOnHeldOutStories(handle, model, artefactDir, (i) => writeStory(i, 101 + i));
    const rows = evaluatePressQuality(handle, texts, {
      ratios,
      vocab: model.info.config.vocab,
      nLayers: model.info.config.nLayers,
      artefacts,
      text: model.pressText,
      presses: presses?.map((p) => listPresses().find((x) => x.name === p || x.className === p)!.name),
      onRow: (row) =>
        io.err(
          `${row.press} r=${row.ratio}: KL ${row.klDivergence.toFixed(4)}, top-1 ${(100 * row.top1Agreement).toFixed(1)} %, ` +
            `${row.tiedSlots.toFixed(0)} kept slots decided by a tie (${(100 * row.tiedShare).toFixed(1)} %)`,
        ),
    });
    const gaps = listPresses()
      .filter((p) => !presses || presses.includes(p.name) || presses.includes(p.className))
      .map((p) => ({ name: p.name, why: qualityGap(p.name, { artefacts }) }))
      .filter((g) => g.why !== undefined);
    const table = renderQualityTable(rows, ratios);
    if (values.out) {
      const doc = await readFile(values.out, 'utf8').catch(() => '# Presses\n');
      const section =
        `## Evaluation\n\nModel \`${values.model}\`, ${stories} stories written by the model (temperature 0.8, seeds 1..${stories}), ` +
        `context ${contextLength} tokens, next-token distributions over the following ${continuationLength} tokens compared with the ` +
        `uncompressed cache (decoding presses act while the continuation is fed token by token; "bytes kept" is measured after the prefill; ` +
        `"kept by a tie" is the share of kept KV slots whose score equals the best dropped slot's, chosen by the tie rule: see "Ties" above). ` +
        `ExpectedAttentionStats' and QFilter's files are calibrated (\`presskv calibrate\`) on ${CALIBRATION_STORIES} other stories ` +
        `(seeds 101..${100 + CALIBRATION_STORIES}). Reproduce: \`presskv presses evaluate --model ${values.model} --out ${values.out}\`.\n\n${table}\n` +
        (gaps.length ? `\nNot evaluated: ${gaps.map((g) => `\`${g.name}\` (${g.why})`).join('; ')}.\n` : '');
      const at = doc.indexOf('## Evaluation');
      await writeFile(values.out, at >= 0 ? `${doc.slice(0, at)}${section}` : `${doc.trimEnd()}\n\n${section}`);
    }
    io.out(values.json ? JSON.stringify(rows, null, 2) : table);
    return 0;
  } finally {
    handle.dispose();
    model.dispose();
    await rm(artefactDir, { recursive: true, force: true });
  }
}

const CALIBRATION_STORIES = 4;

/** The artefacts the calibrated presses read, computed from stories the evaluation does not score. */
async function calibrateOnHeldOutStories(
  handle: NativeModelHandle,
  model: Model,
  dir: string,
  story: (i: number) => Promise<number[]>,
): Promise<QualityArtefacts> {
  const chunks: Int32Array[] = [];
  for (let i = 0; i < CALIBRATION_STORIES; i++) chunks.push(Int32Array.from(await story(i)));
  const { nLayers, nHeads, nKvHeads, headDim } = model.info.config;
  const artefacts: QualityArtefacts = {};
  for (const [kind, file] of [['expected-attention-stats', 'stats.safetensors'], ['qfilter', 'qfilter.safetensors']] as const) {
    const out = join(dir, file);
    await writeCalibrationArtefact(out, runCalibration(handle, chunks, kind), { nLayers, nHeads, nKvHeads, headDim });
    artefacts[kind] = out;
  }
  return artefacts;
}

const KINDS = ['scorer', 'wrapper', 'decoding', 'other'] as const;

function showValue(v: unknown): string {
  if (v === null) return '(required/unset)';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function table(rows: PressListing[]): string {
  const nameWidth = Math.max(4, ...rows.map((r) => r.name.length));
  const classWidth = Math.max(5, ...rows.map((r) => r.className.length));
  const lines = [`${'NAME'.padEnd(nameWidth)}  ${'CLASS'.padEnd(classWidth)}  ${'KIND'.padEnd(8)}  OPTIONS (default)`];
  for (const r of rows) {
    const options = Object.entries(r.options).map(([k, v]) => `${k}=${showValue(v)}`).join(' ');
    lines.push(`${r.name.padEnd(nameWidth)}  ${r.className.padEnd(classWidth)}  ${r.kind.padEnd(8)}  ${options}`);
  }
  return lines.join('\n');
}

/** Returns the exit code: 0 on success, 2 on a usage error. */
export async function runPressesCommand(argv: string[], io: Pick<CommandIo, 'out' | 'err'>): Promise<number> {
  if (argv[0] === 'evaluate') return runEvaluate(argv.slice(1), io);
  let values: { json?: boolean; kind?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: PRESSES_FLAGS,
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    io.err(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (values.kind !== undefined && !(KINDS as readonly string[]).includes(values.kind)) {
    io.err(`--kind must be one of ${KINDS.join(', ')}, got "${values.kind}"\n${USAGE}`);
    return 2;
  }
  const rows = listPresses().filter((r) => values.kind === undefined || r.kind === values.kind);
  io.out(values.json ? JSON.stringify(rows, null, 2) : table(rows));
  return 0;
}
