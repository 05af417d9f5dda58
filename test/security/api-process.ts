// A separate API process for the multi-instance tests: the real node server on a free port of 127.0.0.1, configured
// by the environment it is spawned with; prints "listening <port>" once ready and stops on SIGTERM.
import type { AddressInfo } from 'node:net';
import { closeMongoClient } from '../../src/db/client.js';
import { createNodeServer } from '../../src/node-server.js';

const server = createNodeServer();
server.listen(0, '127.0.0.1', () => {
  console.log(`listening ${(server.address() as AddressInfo).port}`);
});
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close();
  void closeMongoClient().finally(() => process.exit(0));
});
