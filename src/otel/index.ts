export { instrument } from './instrument.js';
export type { InstrumentOptions, Instrumentation, InstrumentTarget } from './options.js';
export { METRIC_NAMES } from './names.js';
