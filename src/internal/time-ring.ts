/**
 * A growable ring of start times in a `Float64Array`: a request window needs only times, and
 * keeping numbers instead of objects means a window holding a million starts costs the garbage
 * collector nothing.
 */
export class TimeRing {
  #items: Float64Array;
  #mask: number;
  #head = 0;
  #length = 0;

  constructor(initialCapacity = 16) {
    let capacity = 16;
    while (capacity < initialCapacity) capacity *= 2;
    this.#items = new Float64Array(capacity);
    this.#mask = capacity - 1;
  }

  get length(): number {
    return this.#length;
  }

  /** The time `index` places from the oldest; NaN when out of range. */
  at(index: number): number {
    if (index < 0 || index >= this.#length) return Number.NaN;
    return this.#items[(this.#head + index) & this.#mask] as number;
  }

  /** The oldest time; NaN when empty. */
  front(): number {
    return this.#length === 0 ? Number.NaN : (this.#items[this.#head] as number);
  }

  push(time: number): void {
    if (this.#length === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#length) & this.#mask] = time;
    this.#length++;
  }

  shift(): void {
    if (this.#length === 0) return;
    this.#head = (this.#head + 1) & this.#mask;
    this.#length--;
  }

  /**
   * Removes one occurrence of `time`, searching from the newest: a cancelled request is usually
   * recent. Any start with the same time counts the same, so which one goes does not matter.
   * Returns the index it had (from the oldest), -1 if absent.
   */
  remove(time: number): number {
    const items = this.#items;
    const mask = this.#mask;
    for (let i = this.#length - 1; i >= 0; i--) {
      if (items[(this.#head + i) & mask] !== time) continue;
      for (let j = i; j < this.#length - 1; j++) {
        items[(this.#head + j) & mask] = items[(this.#head + j + 1) & mask] as number;
      }
      this.#length--;
      return i;
    }
    return -1;
  }

  /**
   * Inserts `count` copies of `time` in sorted position (the ring is kept oldest first). Used for
   * usage the server reported that started before the newest starts; O(entries newer than it).
   */
  insertSorted(time: number, count: number): void {
    if (count <= 0) return;
    while (this.#length + count > this.#items.length) this.#grow();
    const items = this.#items;
    const mask = this.#mask;
    let i = this.#length;
    while (i > 0 && (items[(this.#head + i - 1) & mask] as number) > time) i--;
    for (let j = this.#length - 1; j >= i; j--)
      items[(this.#head + j + count) & mask] = items[(this.#head + j) & mask] as number;
    for (let j = 0; j < count; j++) items[(this.#head + i + j) & mask] = time;
    this.#length += count;
  }

  #grow(): void {
    const old = this.#items;
    const next = new Float64Array(old.length * 2);
    for (let i = 0; i < this.#length; i++) next[i] = old[(this.#head + i) & this.#mask] as number;
    this.#items = next;
    this.#mask = next.length - 1;
    this.#head = 0;
  }
}
