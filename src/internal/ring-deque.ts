/**
 * A growable ring buffer: O(1) push at the back and shift at the front, with no `Array.shift`
 * (which is O(n) on large arrays). Windows keep their start times here.
 */
export class RingDeque<T> {
  #items: (T | undefined)[];
  #mask: number;
  #head = 0;
  #length = 0;

  constructor(initialCapacity = 16) {
    let capacity = 16;
    while (capacity < initialCapacity) capacity *= 2;
    this.#items = new Array<T | undefined>(capacity);
    this.#mask = capacity - 1;
  }

  get length(): number {
    return this.#length;
  }

  /** The element `index` places from the front (0 = oldest); undefined when out of range. */
  at(index: number): T | undefined {
    if (index < 0 || index >= this.#length) return undefined;
    return this.#items[(this.#head + index) & this.#mask];
  }

  front(): T | undefined {
    return this.#length === 0 ? undefined : this.#items[this.#head];
  }

  push(item: T): void {
    if (this.#length === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#length) & this.#mask] = item;
    this.#length++;
  }

  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) & this.#mask;
    this.#length--;
    return item;
  }

  /**
   * Removes `item` (by identity), searching from the back: entries are removed soon after they
   * were added (a cancelled request), so the search is short in practice. Returns the index it had (from the oldest), -1 if absent.
   */
  remove(item: T): number {
    for (let i = this.#length - 1; i >= 0; i--) {
      const slot = (this.#head + i) & this.#mask;
      if (this.#items[slot] !== item) continue;
      for (let j = i; j < this.#length - 1; j++) {
        this.#items[(this.#head + j) & this.#mask] = this.#items[(this.#head + j + 1) & this.#mask];
      }
      this.#items[(this.#head + this.#length - 1) & this.#mask] = undefined;
      this.#length--;
      return i;
    }
    return -1;
  }

  /** Inserts `item` before the newer items, where `isNewer(existing)` says which ones those are. */
  insertBefore(item: T, isNewer: (existing: T) => boolean): void {
    if (this.#length === this.#items.length) this.#grow();
    let i = this.#length;
    while (i > 0 && isNewer(this.#items[(this.#head + i - 1) & this.#mask] as T)) {
      this.#items[(this.#head + i) & this.#mask] = this.#items[(this.#head + i - 1) & this.#mask];
      i--;
    }
    this.#items[(this.#head + i) & this.#mask] = item;
    this.#length++;
  }

  clear(): void {
    this.#items.fill(undefined);
    this.#head = 0;
    this.#length = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#length; i++) yield this.#items[(this.#head + i) & this.#mask] as T;
  }

  #grow(): void {
    const old = this.#items;
    const next = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.#length; i++) next[i] = old[(this.#head + i) & this.#mask];
    this.#items = next;
    this.#mask = next.length - 1;
    this.#head = 0;
  }
}
