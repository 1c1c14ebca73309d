/**
 * The UTF-8 size of `text` in bytes, without allocating an encoded copy. Lone surrogates count
 * as the three bytes of the replacement character they encode to.
 */
export function utf8Length(text: string): number {
  let bytes = text.length; // one byte per code unit, plus the extra bytes counted below
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 2; // the pair's two code units become four bytes
        i++;
        continue;
      }
      bytes += 2;
    } else bytes += 2;
  }
  return bytes;
}

/**
 * The `fast` token estimate: one token per four bytes of UTF-8, rounded up, without loading a
 * tokenizer. For English and code that is one token per four characters, a few percent more than
 * o200k_base counts (erring high suits a rate limiter); CJK text costs about 0.75 token a
 * character, close to what the OpenAI tokenizers give.
 *
 * @param text Any text; special-token spellings such as `<|endoftext|>` are plain text here too.
 */
export function estimateTokensFast(text: string): number {
  return Math.ceil(utf8Length(text) / 4);
}
