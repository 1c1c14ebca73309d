/** Renders a value for an error message: `-5` (number), `"abc"` (string), `[object]` (object). */
export function describeValue(value: unknown): string {
  let shown: string;
  if (typeof value === 'string') shown = JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') shown = String(value);
  else if (value === null) shown = 'null';
  else if (value === undefined) shown = 'undefined';
  else if (Array.isArray(value)) shown = `array(${value.length})`;
  else if (typeof value === 'function') shown = 'function';
  else shown = 'object';
  return `\`${shown}\` (${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value})`;
}
