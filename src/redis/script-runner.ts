import { type Clock, systemClock, unrefTimer } from '../internal/clock.js';
import type { RedisCommandClient } from './clients.js';
import { isNoScript, RedisTimeoutError } from './errors.js';
import type { RedisScript } from './lua/prelude.js';

/**
 * Runs scripts by EVALSHA, falling back to EVAL when the server's script cache does not hold them
 * (after a restart, a failover or SCRIPT FLUSH); EVAL caches the script again. Every command is
 * raced against `timeoutMs`, so no caller waits on a hung connection, whatever the client's own
 * settings. The timeouts run on `clock`: the limiter's, once the store is configured.
 */
export class ScriptRunner {
  /** Commands on the wire, for `settled()`. */
  readonly #inflight = new Set<Promise<unknown>>();
  clock: Clock = systemClock;

  constructor(
    readonly client: RedisCommandClient,
    readonly timeoutMs: number,
  ) {}

  async run(script: RedisScript, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await this.send(['EVALSHA', script.sha, ...tail]);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return await this.send(['EVAL', script.source, ...tail]);
    }
  }

  /**
   * Runs a script by EVAL, never EVALSHA: it then runs in the order it was sent, before any command
   * sent after it, even when the server's script cache has lost it (EVALSHA's fallback would run
   * it after them). For a write that later admissions must see.
   */
  runInOrder(script: RedisScript, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return this.send(['EVAL', script.source, String(keys.length), ...keys, ...args]);
  }

  /** Resolves once every command sent so far is answered or timed out. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#inflight]);
  }

  /** One command, rejected with `RedisTimeoutError` when it takes longer than `timeoutMs`. */
  send(args: readonly string[]): Promise<unknown> {
    const answer = this.#send(args);
    this.#inflight.add(answer);
    const done = (): void => void this.#inflight.delete(answer);
    answer.then(done, done);
    return answer;
  }

  #send(args: readonly string[]): Promise<unknown> {
    let sent: Promise<unknown>;
    try {
      sent = this.client.send(args);
    } catch (error) {
      // A client that throws instead of rejecting (closed, misconfigured) is answered the same way.
      return Promise.reject(error);
    }
    const clock = this.clock;
    return new Promise((resolve, reject) => {
      // A late answer must not keep the process alive, nor its rejection go unhandled.
      const timer = unrefTimer(clock.setTimeout(() => reject(new RedisTimeoutError(this.timeoutMs)), this.timeoutMs));
      sent.then(
        (reply) => {
          clock.clearTimeout(timer);
          resolve(reply);
        },
        (error: unknown) => {
          clock.clearTimeout(timer);
          reject(error);
        },
      );
    });
  }
}
