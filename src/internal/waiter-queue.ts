/** A node of the waiter queue: the queue links waiters directly, so removal allocates nothing. */
export interface QueueNode {
  priority: number;
  prev: QueueNode | undefined;
  next: QueueNode | undefined;
  /** The level the node sits in, or undefined when it is not queued. */
  level: Level | undefined;
}

interface Level {
  readonly priority: number;
  head: QueueNode | undefined;
  tail: QueueNode | undefined;
}

/**
 * Waiters ordered by priority (higher first), first-in first-out within a priority. One doubly
 * linked list per priority level, so an aborted or timed-out waiter leaves in O(1). Few distinct
 * priorities are expected, so levels are a short array kept in descending order.
 */
export class WaiterQueue<T extends QueueNode> {
  #levels: Level[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** The waiter to serve next. */
  peek(): T | undefined {
    return this.#levels[0]?.head as T | undefined;
  }

  /** True when a waiter of at least this priority is queued (it would be ahead of a newcomer). */
  hasAtLeast(priority: number): boolean {
    const top = this.#levels[0];
    return top !== undefined && top.priority >= priority;
  }

  push(node: T): void {
    const level = this.#levelFor(node.priority);
    node.level = level;
    node.next = undefined;
    node.prev = level.tail;
    if (level.tail === undefined) level.head = node;
    else level.tail.next = node;
    level.tail = node;
    this.#size++;
  }

  /** Unlinks `node`; a node that is not queued is ignored. */
  remove(node: T): boolean {
    const level = node.level;
    if (level === undefined) return false;
    if (node.prev === undefined) level.head = node.next;
    else node.prev.next = node.next;
    if (node.next === undefined) level.tail = node.prev;
    else node.next.prev = node.prev;
    node.prev = node.next = node.level = undefined;
    this.#size--;
    if (level.head === undefined) this.#levels.splice(this.#levels.indexOf(level), 1);
    return true;
  }

  /** Every queued waiter, in service order. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (const level of [...this.#levels]) {
      let node = level.head;
      while (node !== undefined) {
        const next = node.next;
        yield node as T;
        node = next;
      }
    }
  }

  #levelFor(priority: number): Level {
    const levels = this.#levels;
    let i = 0;
    while (i < levels.length && (levels[i] as Level).priority > priority) i++;
    const found = levels[i];
    if (found !== undefined && found.priority === priority) return found;
    const level: Level = { priority, head: undefined, tail: undefined };
    levels.splice(i, 0, level);
    return level;
  }
}
