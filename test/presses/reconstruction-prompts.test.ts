// KVzip's reconstruction prompts (spec §2.12) derived as kvpress does: the question suffix is what the chat
// template puts between the user's content and the answer, the prefix what it puts before the content.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../engine/errors.js';
import { reconstructionPrompts } from '../../engine/presses/reconstruction-prompts.js';

// A tokenizer whose ids are the characters' code points: the texts can be read back from the ids.
const chars = { encode: (text: string) => Array.from(text, (c) => c.codePointAt(0)!) };
const text = (ids: number[]) => String.fromCodePoint(...ids);

const CHATML =
  "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% if enable_thinking is defined and not enable_thinking %}{{ '<think>\\n\\n</think>\\n\\n' }}{% endif %}{% endif %}";

describe('KVzip reconstruction prompts', () => {
  it('without a chat template: no prefix, suffix "\\n", the two repeat instructions', () => {
    const p = reconstructionPrompts({ tokenizer: chars });
    expect(text(p.repeatPromptIds)).toBe('\n\nRepeat the previous context exactly.');
    expect(text(p.repeatPartPromptIds)).toBe('\n\nRepeat the part of the previous context exactly, starting with');
    expect(text(p.suffixIds)).toBe('\n');
    expect(p.prefixLength).toBe(0);
  });

  it('with a ChatML template: the suffix closes the user turn and opens the answer (thinking off), the prefix opens the user turn', () => {
    const p = reconstructionPrompts({ tokenizer: chars, chatTemplate: CHATML });
    expect(text(p.suffixIds)).toBe('<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n');
    expect(p.prefixLength).toBe('<|im_start|>user\n'.length);
  });

  it('a template that does not render the user content verbatim is a typed error', () => {
    const mangling = "{% for m in messages %}{{ m.content | upper }}{% endfor %}";
    expect(() => reconstructionPrompts({ tokenizer: chars, chatTemplate: mangling })).toThrow(InvalidArgumentError);
  });
});
