// The AI SDK LanguageModelV3 over a presskv Model: doGenerate returns the parts at once, doStream streams
// real tokens as they are generated. Reasoning (<think>) and tool calls are split out of the text. Each call is
// planned (planCall: on a stored context, or on the model with its whole prompt) and answered by the one call
// pipeline (call-pipeline.ts), which contextCacheMiddleware({ store }) answers through too.
import type { LanguageModelV3, LanguageModelV3CallOptions, LanguageModelV3GenerateResult, LanguageModelV3StreamResult } from '@ai-sdk/provider';
import type { Model } from '../engine/model.js';
import { generateCall, streamCall } from './call-pipeline.js';
import { planCall, type ContextStores } from './context-call.js';

export const PROVIDER_NAME = 'presskv';

export class PressKVLanguageModel implements LanguageModelV3 {
  readonly specificationVersion = 'v3' as const;
  readonly provider = PROVIDER_NAME;
  /** presskv reads text only, so no URL is ever passed through (the SDK downloads what a prompt links). */
  readonly supportedUrls: Record<string, RegExp[]> = {};

  constructor(
    readonly modelId: string,
    private readonly loadModel: () => Promise<Model>,
    /** Where stored contexts live (createPressKV gives one store per loaded model). */
    private readonly contexts?: ContextStores,
  ) {}

  async doGenerate(options: LanguageModelV3CallOptions): Promise<LanguageModelV3GenerateResult> {
    options.abortSignal?.throwIfAborted();
    const model = await this.loadModel();
    return generateCall(model, options, await planCall(model, options, this.contexts), this.modelId);
  }

  async doStream(options: LanguageModelV3CallOptions): Promise<LanguageModelV3StreamResult> {
    options.abortSignal?.throwIfAborted();
    const model = await this.loadModel();
    return streamCall(model, options, await planCall(model, options, this.contexts), this.modelId);
  }
}
