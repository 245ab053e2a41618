// Weights read into private memory (the default) must give exactly the mapped model's (mmap: true) answers.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { generateText } from 'ai';
import { describe, expect, it } from 'vitest';

import { createPressKV } from '../index.js';

const stories = fileURLToPath(new URL('../../shared/models/stories260K.gguf', import.meta.url));
const haveStories = existsSync(stories);
if (!haveStories) console.warn('[provider-mmap] skipped: ../shared/models/stories260K.gguf is absent');

describe.runIf(haveStories)('createPressKV({ mmap })', () => {
  it('gives the same greedy text with mapped and with privately read weights', async () => {
    const mapped = createPressKV({ threads: 1, mmap: true });
    const read = createPressKV({ threads: 1 });
    try {
      const ask = { prompt: 'Once upon a time', maxOutputTokens: 40, temperature: 0 } as const;
      const a = await generateText({ model: mapped(stories), ...ask });
      const b = await generateText({ model: read(stories), ...ask });
      expect(a.text.length).toBeGreaterThan(20);
      expect(b.text).toBe(a.text);
    } finally {
      mapped.dispose();
      read.dispose();
    }
  });

  it('refuses a non-boolean mmap with a typed error', async () => {
    const bad = createPressKV({ mmap: 'no' as unknown as boolean });
    try {
      await expect(generateText({ model: bad(stories), prompt: 'x', maxOutputTokens: 1 })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    } finally {
      bad.dispose();
    }
  });
});
