import { isObject } from '../internal/is-object.js';
import { jsonText } from './content.js';
import type { JsonObject } from '../internal/is-object.js';
import type { TokenEncodingName } from './encoding.js';
import type { TextCounter } from './text-counter.js';

/*
 * OpenAI renders function definitions into the prompt in a compact form the API does not show.
 * The OpenAI cookbook ("How to count tokens with tiktoken", function-calling section) fits its
 * size with a few constants and checks them against the API: the weather example there gives 101
 * prompt tokens on gpt-4o and 105 on gpt-4. Per function: `func` + the tokens of
 * "name:description"; when it has properties, `propertiesStart` once and, per property,
 * `property` + the tokens of "key:type:description" (a trailing period dropped), and for an enum
 * `enumStart` + (`enumItem` + the item's tokens) per item. Then `end` once for the whole list.
 */
interface ToolConstants {
  readonly func: number;
  readonly propertiesStart: number;
  readonly property: number;
  readonly enumStart: number;
  readonly enumItem: number;
  readonly end: number;
}

const GPT_4O_TOOLS: ToolConstants = { func: 7, propertiesStart: 3, property: 3, enumStart: -3, enumItem: 3, end: 12 };
const GPT_4_TOOLS: ToolConstants = { func: 10, propertiesStart: 3, property: 3, enumStart: -3, enumItem: 3, end: 12 };

const DESCRIBED_KEYS = new Set(['type', 'description', 'enum']);

interface FunctionDefinition {
  readonly name: string;
  readonly description: string;
  readonly parameters: unknown;
}

/** The function inside any of the shapes OpenAI accepts, or `undefined` for other tools. */
function functionOf(tool: unknown): FunctionDefinition | undefined {
  if (!isObject(tool)) return undefined;
  // Chat Completions: { type: 'function', function: { name, description, parameters } }
  // Responses API: { type: 'function', name, description, parameters }
  // Legacy `functions`: { name, description, parameters }
  const fn = isObject(tool.function)
    ? tool.function
    : tool.type === 'function' || tool.type === undefined
      ? tool
      : undefined;
  if (fn === undefined || typeof fn.name !== 'string') return undefined;
  return {
    name: fn.name,
    description: typeof fn.description === 'string' ? fn.description : '',
    parameters: fn.parameters,
  };
}

function withoutFinalPeriod(text: string): string {
  return text.endsWith('.') ? text.slice(0, -1) : text;
}

function typeText(type: unknown): string {
  if (typeof type === 'string') return type;
  if (Array.isArray(type)) return type.map((t) => String(t)).join(' | ');
  return type === undefined ? '' : jsonText(type);
}

async function countProperty(counter: TextCounter, c: ToolConstants, key: string, schema: JsonObject): Promise<number> {
  let tokens = c.property;
  if (Array.isArray(schema.enum)) {
    tokens += c.enumStart;
    for (const item of schema.enum)
      tokens += c.enumItem + (await counter.count(typeof item === 'string' ? item : jsonText(item)));
  }
  const description = typeof schema.description === 'string' ? withoutFinalPeriod(schema.description) : '';
  tokens += await counter.count(`${key}:${typeText(schema.type)}:${description}`);
  // Nested objects, items, anyOf…: the cookbook's fit does not cover them; their JSON text is a
  // fair stand-in and errs high.
  const rest: JsonObject = {};
  let hasRest = false;
  for (const [k, v] of Object.entries(schema)) {
    if (!DESCRIBED_KEYS.has(k)) {
      rest[k] = v;
      hasRest = true;
    }
  }
  if (hasRest) tokens += await counter.count(jsonText(rest));
  return tokens;
}

/**
 * Prompt tokens OpenAI adds for a list of tool (or legacy function) definitions, by the cookbook's
 * fitted rule: gpt-4o constants for `o200k_base`, gpt-4 constants for `cl100k_base`. Tools that are
 * not functions (web search, file search, custom tools) count as their JSON text. Internal.
 */
export async function countOpenAiTools(
  counter: TextCounter,
  encoding: TokenEncodingName,
  tools: readonly unknown[],
): Promise<number> {
  if (tools.length === 0) return 0;
  const c = encoding === 'cl100k_base' ? GPT_4_TOOLS : GPT_4O_TOOLS;
  let tokens = 0;
  let functions = 0;
  for (const tool of tools) {
    const fn = functionOf(tool);
    if (fn === undefined) {
      tokens += await counter.count(jsonText(tool));
      continue;
    }
    functions++;
    tokens += c.func + (await counter.count(`${fn.name}:${withoutFinalPeriod(fn.description)}`));
    const properties = isObject(fn.parameters) && isObject(fn.parameters.properties) ? fn.parameters.properties : {};
    const keys = Object.keys(properties);
    if (keys.length > 0) {
      tokens += c.propertiesStart;
      for (const key of keys) {
        const schema = properties[key];
        tokens += await countProperty(counter, c, key, isObject(schema) ? schema : {});
      }
    }
  }
  if (functions > 0) tokens += c.end;
  return tokens;
}
