// Which part of a prompt is its context (DESIGN.md §5): the part that is stored — and maybe compressed — once
// and reused by every call whose prompt starts the same way. The provider and the context middleware pick it
// by the same rule, so a context stored by one is found by the other.
import type { LanguageModelV3Prompt } from '@ai-sdk/provider';

type WithProviderOptions = { providerOptions?: Record<string, Record<string, unknown>> };

function isCacheMarked(o: WithProviderOptions | undefined): boolean {
  const p = o?.providerOptions?.presskv;
  return p?.cacheBreakpoint === true || p?.compress === true;
}

function partsOf(message: LanguageModelV3Prompt[number]): WithProviderOptions[] {
  return Array.isArray(message.content) ? (message.content as WithProviderOptions[]) : [];
}

/** Whether a message, or one of its parts, is marked `providerOptions.presskv.cacheBreakpoint` (or `compress`). */
export function hasCacheMark(prompt: LanguageModelV3Prompt): boolean {
  return prompt.some((m) => isCacheMarked(m) || partsOf(m).some(isCacheMarked));
}

/** The prompt up to the last cache breakpoint, else everything before the final user message. */
export function contextPartOf(prompt: LanguageModelV3Prompt): LanguageModelV3Prompt {
  let last = -1;
  prompt.forEach((message, i) => {
    if (isCacheMarked(message) || partsOf(message).some(isCacheMarked)) last = i;
  });
  if (last >= 0) return prompt.slice(0, last + 1);
  const finalUser = prompt.map((m) => m.role).lastIndexOf('user');
  return finalUser > 0 ? prompt.slice(0, finalUser) : [];
}
