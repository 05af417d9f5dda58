// One API instance for the bench, like one function instance: its own process and MongoClient pool, the API on one
// port and the baseline JSON server (bench only) on another; reports both URLs to the parent over IPC.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { closeMongoClient, getMongoClient } from '../src/db/client.js';
import { assertStartupConfig } from '../src/env.js';
import { createNodeServer } from '../src/node-server.js';
import { createBaselineServer } from './baselines/server.js';

export interface InstanceReady {
  type: 'ready';
  apiUrl: string;
  baselineUrl: string;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

assertStartupConfig();
// Connect before reporting ready, so the first measured request does not pay for the handshake.
await getMongoClient().connect();
const api = createNodeServer();
const baseline = createBaselineServer();
const [apiPort, baselinePort] = await Promise.all([listen(api), listen(baseline)]);
const ready: InstanceReady = { type: 'ready', apiUrl: `http://127.0.0.1:${apiPort}/api/graphql`, baselineUrl: `http://127.0.0.1:${baselinePort}` };
process.send?.(ready);

async function shutdown(): Promise<void> {
  for (const server of [api, baseline]) server.closeAllConnections();
  await Promise.all([api, baseline].map((server) => new Promise((resolve) => server.close(resolve))));
  await closeMongoClient();
  process.exit(0);
}
process.once('SIGTERM', () => void shutdown());
// The parent went away (crashed or killed): do not linger.
process.once('disconnect', () => void shutdown());
