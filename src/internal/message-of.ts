/** The message of a thrown value, for wrapping it in an error of our own: thrown non-errors as text. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
