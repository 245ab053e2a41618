// llama.cpp (through node-llama-cpp) as the speed peer of `presskv bench`. Its prebuilt binaries and
// optional GPU packages are large, so it is not a dependency: the bench installs the pinned version
// with only this platform's CPU binary into a folder of its own on first use.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const NODE_LLAMA_CPP_VERSION = '3.21.1';

export interface PeerRun {
  prefillMs: number;
  decodeMs: number;
  decodedTokens: number;
}

export interface LlamaCppPeer {
  version: string;
  systemInfo: string;
  run(modelPath: string, opts: { promptTokens: number[]; decodeTokens: number; threads: number; flashAttention: boolean }): Promise<PeerRun>;
}

function ensureInstalled(dir: string, log: (line: string) => void): string {
  const entry = join(dir, 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
  if (existsSync(entry)) return entry;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'presskv-bench-peer', private: true, type: 'module' }));
  const binary = `@node-llama-cpp/${process.platform === 'darwin' ? 'mac' : process.platform === 'win32' ? 'win' : process.platform}-${process.arch}`;
  log(`installing node-llama-cpp@${NODE_LLAMA_CPP_VERSION} (CPU binary ${binary}) into ${dir} ...`);
  execFileSync(
    process.platform === 'win32' ? 'npm.cmd' : 'npm',
    ['install', '--omit=optional', '--no-audit', '--no-fund', '--ignore-scripts',
      `node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`, `${binary}@${NODE_LLAMA_CPP_VERSION}`],
    { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return entry;
}

export async function loadLlamaCppPeer(dir: string, log: (line: string) => void): Promise<LlamaCppPeer> {
  const entry = ensureInstalled(dir, log);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const nlc: any = await import(pathToFileURL(entry).href);
  const llama = await nlc.getLlama({ gpu: false, build: 'never', logLevel: 'error' });
  return {
    version: NODE_LLAMA_CPP_VERSION,
    systemInfo: String(llama.systemInfo ?? ''),
    async run(modelPath, { promptTokens, decodeTokens, threads, flashAttention }) {
      const model = await llama.loadModel({ modelPath });
      const context = await model.createContext({
        contextSize: promptTokens.length + decodeTokens + 16,
        batchSize: 512,
        threads: { ideal: threads, min: threads },
        flashAttention,
      });
      try {
        const sequence = context.getSequence();
        const head = promptTokens.slice(0, -1);
        const t0 = performance.now();
        await sequence.evaluateWithoutGeneratingNewTokens(head);
        const t1 = performance.now();
        let decoded = 0;
        // Each yielded token costs one single-token forward step (the first one evaluates the last prompt
        // token), so decodedTokens counts forward steps, as presskv's row does.
        for await (const _token of sequence.evaluate(promptTokens.slice(-1), { temperature: 0 })) {
          if (++decoded >= decodeTokens) break;
        }
        const t2 = performance.now();
        return { prefillMs: t1 - t0, decodeMs: t2 - t1, decodedTokens: decoded };
      } finally {
        await context.dispose();
        await model.dispose();
      }
    },
  };
}
