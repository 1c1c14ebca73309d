/** One observation of others' use, and how long it counts. */
interface Evidence {
  readonly seen: number;
  readonly expiresAt: number;
}

/**
 * What others (clients outside this limiter) use of one window, as learned from the provider's
 * `remaining` headers. Each observation is the least others must have used (a lower bound: one of
 * 0 says nothing), and it counts until its own `until`: one window beyond the moment the server
 * said it would be back to full, since others go on using the quota while we send nothing and
 * learn nothing. The level is the largest observation still in force, so a large share never
 * outlives its own `until` however often later, smaller ones arrive: it follows the server down
 * and lapses when the server stops showing it. And none outlasts what the server says is used now:
 * others cannot hold more of the window than everyone together.
 */
export class OthersShare {
  /** Observations that may still be the largest: none both expires sooner and saw less than another. */
  #evidence: Evidence[] = [];
  /** When the first of `#evidence` expires. */
  #nextExpiry = Number.POSITIVE_INFINITY;
  /**
   * Requests added to the level after 429s that got through while it was in force: the others'
   * use moves between observations, and a level exactly at what they were seen to use left no
   * room for that. Kept while the level lasts; gone with it.
   */
  #headroom = 0;

  /** The level in force at `now`: the largest observation still in force, plus the headroom. */
  at(now: number): number {
    const level = this.#level(now);
    if (level === 0) this.#headroom = 0;
    return level === 0 ? 0 : level + this.#headroom;
  }

  /**
   * A 429 got through: others used more than the level allowed for. With a level in force, one
   * more of headroom (at most `max`) for as long as it lasts; without one, others used at least
   * one, until `until`.
   */
  refused(max: number, until: number, now: number): number {
    if (this.#level(now) === 0) return this.observe(1, until, now);
    if (this.#headroom < max) this.#headroom++;
    return this.at(now);
  }

  #level(now: number): number {
    let level = 0;
    if (this.#evidence.length === 0) return level;
    if (now >= this.#nextExpiry) this.#keep((e) => e.expiresAt > now);
    for (const e of this.#evidence) if (e.seen > level) level = e.seen;
    return level;
  }

  /** When the level falls to 0 if nothing more is learned (it may step down sooner). */
  lapsesAt(now: number): number {
    let at = now;
    for (const e of this.#evidence) if (e.expiresAt > at) at = e.expiresAt;
    return at;
  }

  /**
   * An observation found at least `seen` used by others; it counts until `until`. `total`, when
   * given, is what the server counts as used now by everyone: no earlier observation can still
   * hold more of others' than that, so each is lowered to it (the server back to full ends every
   * share at once). Returns the level in force afterwards (0 when none).
   */
  observe(seen: number, until: number, now: number, total?: number): number {
    if (total !== undefined && this.#evidence.some((e) => e.seen > total)) {
      this.#evidence = this.#evidence.map((e) => (e.seen > total ? { ...e, seen: total } : e));
      this.#keep((e) => e.seen > 0);
    }
    if (seen > 0 && until > now) this.#add(seen, until, now);
    return this.at(now);
  }

  /** Nothing is learned while paused: the share in force outlasts a pause ending at `pausedUntil`. */
  outlast(pausedUntil: number, windowMs: number, now: number): void {
    const level = this.#level(now);
    if (level > 0) this.#add(level, pausedUntil + windowMs, now);
  }

  #add(seen: number, until: number, now: number): void {
    // Keep only observations the new one does not dominate (it sees as much and lasts as long).
    this.#keep((e) => e.expiresAt > now && (e.seen > seen || e.expiresAt > until));
    this.#evidence.push({ seen, expiresAt: until });
    if (until < this.#nextExpiry) this.#nextExpiry = until;
  }

  #keep(test: (e: Evidence) => boolean): void {
    this.#evidence = this.#evidence.filter(test);
    this.#nextExpiry = Number.POSITIVE_INFINITY;
    for (const e of this.#evidence) if (e.expiresAt < this.#nextExpiry) this.#nextExpiry = e.expiresAt;
  }
}
