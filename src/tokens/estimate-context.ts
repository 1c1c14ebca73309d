import type { TextCounter } from './text-counter.js';

/** Input and output tokens of one request, as `estimateRequestTokens` returns them. */
export interface RequestTokenEstimate {
  /** Prompt tokens: what the provider charges to input (ITPM) and to the shared TPM budget. */
  readonly input: number;
  /** The most output the request may produce, as the provider reserves it up front. */
  readonly output: number;
}

/** What a per-API estimator needs besides the body. Internal. */
export interface EstimateContext {
  readonly counter: TextCounter;
  readonly model: string | undefined;
  /** Output tokens to assume per generation when the body names no maximum. */
  readonly reservation: number;
}
