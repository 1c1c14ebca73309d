import { describe, expect, it } from 'vitest';
import { afterDelay } from '../src/feedback/fixed-delay.js';
import { systemClock } from '../src/internal/clock.js';
import { urlPath } from '../src/internal/url-path.js';
import { FakeClock } from '../src/testing/index.js';

describe('after(): calls a fixed delay later, behind one timer', () => {
  it('calls each at its own moment, in order, with one timer at a time', async () => {
    const clock = new FakeClock();
    const calls: [string, number][] = [];
    const at = (name: string) => () => calls.push([name, clock.now()]);
    afterDelay(clock, 75, at('a'));
    await clock.advance(10);
    const b = afterDelay(clock, 75, at('b'));
    await clock.advance(10);
    afterDelay(clock, 75, at('c'));
    expect(clock.pendingTimers).toBe(1);
    b.cancel();
    b.cancel();
    await clock.advance(200);
    expect(calls).toEqual([
      ['a', 75],
      ['c', 95],
    ]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('calls nothing cancelled, and re-arms only for what is left', async () => {
    const clock = new FakeClock();
    const handles = Array.from({ length: 5 }, () => afterDelay(clock, 75, () => expect.fail('cancelled')));
    expect(clock.pendingTimers).toBe(1);
    for (const h of handles) h.cancel();
    await clock.advance(75);
    expect(clock.pendingTimers).toBe(0);
    // And starts again afterwards.
    let called = false;
    afterDelay(clock, 75, () => (called = true));
    await clock.advance(75);
    expect(called).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it("never keeps a process alive: Node's timer is unreferenced", () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    let called = false;
    const handle = afterDelay(systemClock, 60_000, () => (called = true));
    expect(timers()).toBe(before);
    handle.cancel();
    expect(called).toBe(false);
  });

  it('keeps delays apart, and a call made from a call waits its own delay', async () => {
    const clock = new FakeClock();
    const calls: string[] = [];
    afterDelay(clock, 50, () => {
      calls.push(`short ${clock.now()}`);
      afterDelay(clock, 50, () => calls.push(`again ${clock.now()}`));
    });
    afterDelay(clock, 10, () => calls.push(`shorter ${clock.now()}`));
    await clock.advance(200);
    expect(calls).toEqual(['shorter 10', 'short 50', 'again 100']);
  });
});

describe('urlPath', () => {
  it('agrees with the URL parser, plain paths read without it', () => {
    for (const url of [
      'https://api.openai.com/v1/chat/completions',
      'http://127.0.0.1:8080/v1/chat/completions?x=1',
      'https://a.example',
      'https://a.example?x',
      'HTTPS://A.EXAMPLE/X/Y#f',
      'https://a.example/v1/../v2/x',
      'https://a.example/p/./q',
      'https://a.example/%7Euser/x',
      'https://u:p@a.example:99/p/q',
      'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:generateContent?alt=sse',
      'https://a.example/a b',
      'https://a.example/x\\y',
      'https://a.example\\x/y',
      'https://a.example/é',
      'https://a.example/x\ty',
    ]) {
      expect(urlPath(url), url).toBe(new URL(url).pathname);
    }
    expect(urlPath('/v1/messages?beta=true')).toBe('/v1/messages');
  });
});
