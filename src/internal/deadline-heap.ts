/** Something with a deadline and a slot for its heap position. Only items with one are pushed. */
export interface HasDeadline {
  deadline: number | undefined;
  heapIndex: number;
}

const at = (item: HasDeadline): number => item.deadline ?? Number.POSITIVE_INFINITY;

/**
 * A binary min-heap by deadline with O(log n) removal of any member. The limiter's one timer is
 * set for the earlier of the head's start and the first deadline, so per-waiter timeouts need no
 * timers of their own.
 */
export class DeadlineHeap<T extends HasDeadline> {
  readonly #items: T[] = [];

  get size(): number {
    return this.#items.length;
  }

  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    item.heapIndex = this.#items.length;
    this.#items.push(item);
    this.#up(item.heapIndex);
  }

  remove(item: T): void {
    const index = item.heapIndex;
    if (index < 0 || this.#items[index] !== item) return;
    const last = this.#items.pop() as T;
    item.heapIndex = -1;
    if (last === item) return;
    this.#items[index] = last;
    last.heapIndex = index;
    this.#down(index);
    this.#up(last.heapIndex);
  }

  #up(index: number): void {
    const items = this.#items;
    const item = items[index] as T;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = items[parentIndex] as T;
      if (at(parent) <= at(item)) break;
      items[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    items[index] = item;
    item.heapIndex = index;
  }

  #down(index: number): void {
    const items = this.#items;
    const item = items[index] as T;
    const n = items.length;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && at(items[right] as T) < at(items[left] as T)) child = right;
      const smallest = items[child] as T;
      if (at(smallest) >= at(item)) break;
      items[index] = smallest;
      smallest.heapIndex = index;
      index = child;
    }
    items[index] = item;
    item.heapIndex = index;
  }
}
