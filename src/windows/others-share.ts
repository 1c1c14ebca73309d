/**
 * What others (clients outside this limiter) use of one window, as learned from the provider's
 * `remaining` headers: a level that holds until `until` and is refreshed by every observation that
 * still shows it. Learned use would vanish a window after it was seen while the others keep going;
 * a level that decays only when the evidence stops keeps the limiter out of their way.
 */
export class OthersShare {
  amount = 0;
  until = 0;

  /** The level in force at `now`. */
  at(now: number): number {
    return now < this.until ? this.amount : 0;
  }

  /**
   * An observation found `seen` used by others (the least consistent with the server's answer).
   * Raises the level to it (or starts it anew once expired) and keeps it until `until` at least.
   * Returns the level in force afterwards, or 0 when nothing was learned.
   */
  observe(seen: number, until: number, now: number): number {
    if (!(seen > 0)) return 0;
    if (now >= this.until || seen > this.amount) this.amount = seen;
    if (until > this.until) this.until = until;
    return this.amount;
  }
}
