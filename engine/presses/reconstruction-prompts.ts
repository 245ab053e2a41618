// KVzip's context-reconstruction prompts (kvpress-spec §2.12) as token ids of the model at hand. The native
// press never tokenises: it assembles each reconstruction pass from these pieces and the context ids.
import { renderChatTemplate } from '../chat-template.js';
import { InvalidArgumentError } from '../errors.js';

/** What turns the prompts into token ids: the model's tokenizer and chat template (with its BOS/EOS texts). */
export interface PressTextSource {
  tokenizer: { encode(text: string, options?: { addSpecialTokens?: boolean }): number[] };
  chatTemplate?: string;
  bosToken?: string;
  eosToken?: string;
}

/** The pieces of KVzip's reconstruction passes, as native options. */
export interface ReconstructionPrompts {
  /** "\n\nRepeat the previous context exactly." — opens the pass of chunk 0. */
  repeatPromptIds: number[];
  /** "\n\nRepeat the part of the previous context exactly, starting with" — opens the pass of chunk i > 0 (then the last 8 tokens of chunk i−1). */
  repeatPartPromptIds: number[];
  /** The question suffix: what the chat template puts between the user's content and the answer ("\n" without a template). */
  suffixIds: number[];
  /** Tokens of the template's prefix before the user's content: context slots KVzip never scores. */
  prefixLength: number;
}

/** Context tokens per reconstruction pass (kvpress repeats the context in chunks of 2048 tokens). */
export const RECONSTRUCTION_CHUNK_TOKENS = 2048;

export const REPEAT_PROMPT = '\n\nRepeat the previous context exactly.';
export const REPEAT_PART_PROMPT = '\n\nRepeat the part of the previous context exactly, starting with';

/**
 * kvpress's derivation: render one user message "dummy context" + "\n" + "#"×13 with the generation prompt
 * (thinking off); the text after the separator is the question suffix, the text before "dummy context" the
 * prefix. Without a chat template: no prefix, suffix "\n". Tokenised without added special tokens.
 */
export function reconstructionPrompts(source: PressTextSource): ReconstructionPrompts {
  const encode = (text: string) => source.tokenizer.encode(text, { addSpecialTokens: false });
  let prefixText = '';
  let suffixText = '\n';
  if (source.chatTemplate) {
    const dummy = 'dummy context';
    const separator = `\n${'#'.repeat(dummy.length)}`;
    const rendered = renderChatTemplate(source.chatTemplate, {
      messages: [{ role: 'user', content: dummy + separator }],
      addGenerationPrompt: true,
      enableThinking: false,
      bosToken: source.bosToken,
      eosToken: source.eosToken,
    });
    const at = rendered.indexOf(separator);
    const dummyAt = rendered.indexOf(dummy);
    if (at < 0 || dummyAt < 0 || dummyAt > at)
      throw new InvalidArgumentError('KVzipPress: the chat template does not render the user message verbatim, so the question suffix cannot be derived');
    prefixText = rendered.slice(0, dummyAt);
    suffixText = rendered.slice(at + separator.length);
  }
  return {
    repeatPromptIds: encode(REPEAT_PROMPT),
    repeatPartPromptIds: encode(REPEAT_PART_PROMPT),
    suffixIds: encode(suffixText),
    prefixLength: prefixText === '' ? 0 : encode(prefixText).length,
  };
}
