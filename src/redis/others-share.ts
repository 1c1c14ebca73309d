import type { ResolvedLimits } from '../core/vocabulary.js';
import { TOKEN_WINDOW_KINDS } from '../core/vocabulary.js';
import { messageOf } from '../internal/message-of.js';
import { closestWindow, refusalHeadroom, reportHold } from '../stores/remaining-report.js';
import type { RemainingReport } from '../stores/store.js';
import { bucketWidth } from './window-layout.js';
import { SLACK_US, us } from './wire.js';

/** What the learn-others script is given for one report, and the window's name in Redis. */
export interface OthersLearning {
  readonly field: string;
  readonly args: readonly string[];
}

/**
 * Others' shares as every process of the key learns them in Redis (lua/others.ts): a report is
 * turned into the script's arguments for the window it is about (named as the admit script names
 * it, so admissions count the share), and the level Redis last answered for each window is kept,
 * for `learnOthersShare`, which must answer at once.
 */
export class SharedOthers {
  readonly #levels = new Map<string, number>();

  /** `write` runs the learn-others script on `keys` with `args`, handing its reply to `onReply`. */
  constructor(
    readonly keys: readonly string[],
    readonly write: (
      keys: readonly string[],
      args: readonly string[],
      onReply: (reply: unknown) => void,
    ) => Promise<void>,
  ) {}

  /**
   * Sends `report` to Redis, and answers at once with the level Redis last gave for its window
   * (a store's `learnOthersShare` must answer in the same turn). A failure that is not an outage
   * (an outage is the store's to handle) is a warning: the share is then not learned.
   */
  learn(report: RemainingReport, now: number, limits: ResolvedLimits | undefined): number {
    const learning = this.learning(report, now, limits);
    if (learning === undefined) return 0;
    this.write(this.keys, learning.args, (level) => this.heard(learning.field, level)).catch((error: unknown) =>
      process.emitWarning(messageOf(error), { type: 'ForestallWarning', code: 'FORESTALL_REDIS_WRITE' }),
    );
    return this.level(learning.field);
  }

  /** The script's arguments for `report`, or undefined when no window of its kind is limited. */
  learning(report: RemainingReport, now: number, limits: ResolvedLimits | undefined): OthersLearning | undefined {
    if (limits === undefined) return undefined;
    const margin = limits.marginMs;
    const windows = report.kind === 'requests' ? limits.requests : limits[report.kind];
    const window = closestWindow(windows, report.windowMs);
    if (window === undefined) return undefined;
    const span = us(window.windowMs + margin);
    const tokens = report.kind !== 'requests';
    const dim = tokens ? TOKEN_WINDOW_KINDS.indexOf(report.kind) : 0;
    const field = tokens ? `t:${dim}:${window.limit}:${span}` : `r:${window.limit}:${span}`;
    const { foreign, until } = reportHold(report, window.limit, now);
    const refused = !tokens && report.refused === true;
    return {
      field,
      args: [
        field,
        tokens ? '1' : '0',
        String(dim),
        String(window.limit),
        span,
        us(Math.max(0, now - report.since)),
        String(report.remaining),
        us(Math.max(0, until - now)),
        foreign ? '1' : '0',
        refused ? '1' : '0',
        String(refusalHeadroom(window.limit)),
        String(SLACK_US),
        bucketWidth(window.windowMs, margin),
      ],
    };
  }

  /** Redis answered the level of `field`. */
  heard(field: string, level: unknown): void {
    const n = Number(level);
    if (Number.isFinite(n)) this.#levels.set(field, n);
  }

  /** The level Redis last answered for `field` (0 before it answered). */
  level(field: string): number {
    return this.#levels.get(field) ?? 0;
  }
}
