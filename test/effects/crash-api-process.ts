// One API process for the crash harness: the real node server, connected to its database before it reports
// "listening <port>"; it ends when its parent's stdin pipe closes, so a crashed harness leaves nothing behind.
import type { AddressInfo } from 'node:net';
import { getMongoClient } from '../../src/db/client.js';
import { createNodeServer } from '../../src/node-server.js';

await getMongoClient().connect();
const server = createNodeServer();
server.listen(0, '127.0.0.1', () => {
  console.log(`listening ${(server.address() as AddressInfo).port}`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.once('SIGTERM', () => process.exit(0));
