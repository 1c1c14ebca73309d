import { Tiktoken, getEncodingNameForModel } from 'js-tiktoken/lite';
import type { TiktokenBPE, TiktokenModel } from 'js-tiktoken/lite';

/**
 * The two byte-pair encodings forestall loads: `o200k_base` (gpt-4o, gpt-4.1, gpt-4.5, gpt-5,
 * o-series, and the estimate for every other vendor) and `cl100k_base` (gpt-4, gpt-3.5,
 * text-embedding-3, ada-002).
 */
export type TokenEncodingName = 'o200k_base' | 'cl100k_base';

/** A constructed encoder plus the pre-token pattern it splits text with. Internal. */
export interface LoadedEncoding {
  readonly name: TokenEncodingName;
  readonly encoder: Tiktoken;
  /** The encoding's pre-tokenizer pattern, as its rank module ships it. */
  readonly pattern: string;
}

/*
 * Names js-tiktoken does not list (dated snapshots, fine-tunes, Azure deployments, other vendors)
 * must still resolve: "Unknown model" never reaches a caller. Only these families need cl100k;
 * everything else gets o200k, the encoding of every current OpenAI model.
 */
const CL100K_FAMILIES: readonly RegExp[] = [
  /^gpt-4(?:-|$)/, // gpt-4, gpt-4-0613, gpt-4-32k, gpt-4-turbo…; not gpt-4o, gpt-4.1, gpt-4.5
  /^gpt-3\.5/,
  /^gpt-35/, // Azure's spelling
  /^text-embedding-(?:3|ada)/,
];

function baseModelName(model: string): string {
  let name = model.trim().toLowerCase();
  // Fine-tunes are `ft:<base>:<org>:<suffix>:<id>`.
  if (name.startsWith('ft:')) name = name.slice(3).split(':')[0] ?? name;
  // Router and gateway spellings such as `openai/gpt-4o` or `azure/gpt-4`.
  const slash = name.lastIndexOf('/');
  if (slash >= 0) name = name.slice(slash + 1);
  return name;
}

/**
 * The encoding forestall counts a model's text with. Never throws.
 *
 * - Names js-tiktoken lists get its encoding; its legacy p50k/r50k models (davinci, curie, codex…)
 *   get `cl100k_base`, the nearest encoding forestall ships.
 * - gpt-4, gpt-3.5, text-embedding-3 and ada-002 families get `cl100k_base`.
 * - Everything else gets `o200k_base`: gpt-4o, gpt-4.1, gpt-4.5, gpt-5, o1/o3/o4, unknown names and
 *   other vendors' models. There is no public tokenizer for Claude (nor a shipped one for Gemini,
 *   Llama or Mistral), so their counts are an o200k estimate: reconcile from the response's usage.
 *
 * @param model A model name such as `gpt-4o-mini`, `ft:gpt-4o:org::id` or `openai/gpt-4`.
 */
export function encodingForModel(model?: string): TokenEncodingName {
  if (model === undefined || model === '') return 'o200k_base';
  const name = baseModelName(model);
  try {
    return getEncodingNameForModel(name as TiktokenModel) === 'o200k_base' ? 'o200k_base' : 'cl100k_base';
  } catch {
    // "Unknown model": decide by family below.
  }
  return CL100K_FAMILIES.some((family) => family.test(name)) ? 'cl100k_base' : 'o200k_base';
}

/*
 * One promise per encoding, shared by every caller: concurrent first counts wait on the same load
 * instead of each constructing an encoder (o200k_base: ~100 MB of heap). A failed load is
 * forgotten so a later call retries. This is the calling thread's copy: counting normally runs in
 * the tokenizer worker (tokenizer-worker.ts), which loads its own; this one serves where no worker
 * can run, and tests and benchmarks that compare with js-tiktoken itself.
 */
const loads = new Map<TokenEncodingName, Promise<LoadedEncoding>>();
const loaded = new Map<TokenEncodingName, LoadedEncoding>();

async function importRanks(name: TokenEncodingName): Promise<TiktokenBPE> {
  // Literal specifiers, one per encoding, so bundlers keep each rank table separate and nobody
  // pays for the 5.6 MB `js-tiktoken` root that bundles every table.
  const module =
    name === 'o200k_base'
      ? await import('js-tiktoken/ranks/o200k_base')
      : await import('js-tiktoken/ranks/cl100k_base');
  return module.default;
}

/**
 * Loads (once) and returns the encoder for `name` on this thread, blocking it while the rank module
 * is evaluated and the encoder constructed (0.6-1 s for o200k_base). Internal: users go through
 * `countTokens` or `preloadTokenizer`, which use the worker.
 */
export function loadEncoding(name: TokenEncodingName): Promise<LoadedEncoding> {
  let load = loads.get(name);
  if (load === undefined) {
    load = importRanks(name).then((ranks) => {
      const encoding: LoadedEncoding = { name, encoder: new Tiktoken(ranks), pattern: ranks.pat_str };
      loaded.set(name, encoding);
      return encoding;
    });
    loads.set(name, load);
    load.catch(() => loads.delete(name));
  }
  return load;
}

/** The encoder for `name` if this thread has loaded it already, without waiting. Internal. */
export function loadedEncoding(name: TokenEncodingName): LoadedEncoding | undefined {
  return loaded.get(name);
}
