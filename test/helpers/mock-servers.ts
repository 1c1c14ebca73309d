import { afterEach } from 'vitest';
import { type MockServer, type MockServerOptions, startMockServer } from '../../src/testing/index.js';

/** A `startMockServer` for one test file: every server it started is closed after each test. */
export function mockServers(): (options: MockServerOptions) => Promise<MockServer> {
  const servers: MockServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  return async (options) => {
    const server = await startMockServer(options);
    servers.push(server);
    return server;
  };
}
