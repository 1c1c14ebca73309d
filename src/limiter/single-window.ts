import type { WindowKind, WindowLimit } from '../core/vocabulary.js';
import { knownKeys, plainObject } from '../internal/validate.js';
import type { LimiterOptions } from './options.js';

/** Every limiter option but the windows and `limits: 'auto'`: what a single-window limiter also takes. */
export type SingleWindowExtraOptions = Omit<LimiterOptions, WindowKind | 'limits'>;

/** Options of a limiter with one window: the window, plus any option but the other windows. */
export interface SingleWindowOptions extends WindowLimit, SingleWindowExtraOptions {}

const EXTRA_KEYS = [
  'concurrency',
  'maxQueue',
  'marginMs',
  'clock',
  'store',
] as const satisfies readonly (keyof SingleWindowExtraOptions)[];

/** The `Limiter` options of a single-window limiter: its one window as `kind`, the rest as given. */
export function singleWindowOptions(className: string, kind: WindowKind, options: SingleWindowOptions): LimiterOptions {
  plainObject('options', options);
  knownKeys(`${className} options`, options, ['limit', 'windowMs', ...EXTRA_KEYS]);
  const { limit, windowMs, ...rest } = options;
  return { ...rest, [kind]: { limit, windowMs } };
}
