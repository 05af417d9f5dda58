// BENCH ONLY: one server of the peer comparison in its own process (PEER_SERVER names which): the project's own node
// server, a plain JSON endpoint on node:http, a tuned bare graphql-yoga, Apollo Server 5 standalone, or Mercurius with
// graphql-jit. Every one uses the project's MongoClient (src/db/client.ts, same options) and ops. Over IPC it reports
// its URL, its own CPU time (process.cpuUsage) and, on request, a V8 CPU profile of a window of load.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { Session } from 'node:inspector/promises';
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { getDb, getMongoClient } from '../../src/db/client.js';
import { peerOps, peerResolvers, PEER_TYPE_DEFS, type PeerContext } from './peer-schema.js';

export const PEER_SERVERS = ['json', 'yoga', 'apollo', 'mercurius', 'project'] as const;
export type PeerServer = (typeof PEER_SERVERS)[number];

export type PeerMessage =
  | { type: 'ready'; url: string }
  | { type: 'cpu'; userUs: number; systemUs: number }
  | { type: 'profiling' }
  | { type: 'profiled'; file: string };

export type PeerCommand = { type: 'cpu' } | { type: 'profile-start'; intervalUs: number } | { type: 'profile-stop'; file: string };

const server = process.env.PEER_SERVER as PeerServer;

function listen(http: Server): Promise<string> {
  return new Promise((resolve) => http.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(http.address() as AddressInfo).port}`)));
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}

/** The plain JSON endpoint: POST /view {postId}, /like {postId} with a bearer token, /package {name}; no GraphQL. */
function jsonServer(): Server {
  return createServer((req, res) => {
    readBody(req)
      .then(async (raw) => {
        const body = JSON.parse(raw) as { postId?: string; name?: string };
        const db = getDb();
        if (req.url === '/view') return peerOps.recordView(db, String(body.postId));
        if (req.url === '/like') return peerOps.likePost(db, req.headers.authorization ?? null, String(body.postId));
        if (req.url === '/package') return { package: await peerOps.package(db, String(body.name)) };
        return null;
      })
      .then(
        (reply) => (reply === null ? res.writeHead(404).end() : res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply))),
        () => res.writeHead(400, { 'content-type': 'application/json' }).end('{"ok":false}'),
      );
  });
}

async function start(): Promise<string> {
  switch (server) {
    case 'json':
      return `${await listen(jsonServer())}`;
    case 'yoga': {
      const { createSchema, createYoga } = await import('graphql-yoga');
      // Tuned as the issue measured it: no body-size stream wrapper, no landing page, GraphiQL or logging.
      const yoga = createYoga({
        schema: createSchema<PeerContext>({ typeDefs: PEER_TYPE_DEFS, resolvers: peerResolvers }),
        maxRequestBodySize: false,
        landingPage: false,
        graphiql: false,
        logging: false,
        context: ({ request }) => ({ authorization: request.headers.get('authorization') }),
      });
      return `${await listen(createServer(yoga))}/graphql`;
    }
    case 'apollo': {
      const { ApolloServer } = await import('@apollo/server');
      const { startStandaloneServer } = await import('@apollo/server/standalone');
      const apollo = new ApolloServer<PeerContext>({ typeDefs: PEER_TYPE_DEFS, resolvers: peerResolvers });
      const { url } = await startStandaloneServer(apollo, {
        listen: { port: 0, host: '127.0.0.1' },
        context: async ({ req }) => ({ authorization: req.headers.authorization ?? null }),
      });
      return url.replace(/\/$/, '');
    }
    case 'mercurius': {
      const { default: Fastify } = await import('fastify');
      const { default: mercurius } = await import('mercurius');
      const app = Fastify({ logger: false });
      await app.register(mercurius, {
        schema: PEER_TYPE_DEFS,
        resolvers: peerResolvers as never,
        // Compile an operation to JS once it has been seen once: the figure the issue quotes.
        jit: 1,
        context: (request) => ({ authorization: request.headers.authorization ?? null }),
      });
      await app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = app.server.address() as AddressInfo;
      return `http://127.0.0.1:${port}/graphql`;
    }
    case 'project': {
      const { createNodeServer } = await import('../../src/node-server.js');
      const { assertStartupConfig } = await import('../../src/env.js');
      assertStartupConfig();
      return `${await listen(createNodeServer())}/api/graphql`;
    }
    default:
      throw new Error(`PEER_SERVER must be one of ${PEER_SERVERS.join(', ')}`);
  }
}

let session: Session | undefined;

async function onCommand(command: PeerCommand): Promise<void> {
  if (command.type === 'cpu') {
    const { user, system } = process.cpuUsage();
    process.send!({ type: 'cpu', userUs: user, systemUs: system } satisfies PeerMessage);
  } else if (command.type === 'profile-start') {
    // The inspector's Profiler is what --cpu-prof runs, but over a chosen window: start-up and warm-up stay out of it.
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: command.intervalUs });
    await session.post('Profiler.start');
    process.send!({ type: 'profiling' } satisfies PeerMessage);
  } else if (command.type === 'profile-stop' && session) {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    await writeFile(command.file, JSON.stringify(profile));
    process.send!({ type: 'profiled', file: command.file } satisfies PeerMessage);
  }
}

// Connect before reporting ready, so the first measured request does not pay for the handshake.
await getMongoClient().connect();
const url = await start();
process.on('message', (command: PeerCommand) => void onCommand(command));
process.send!({ type: 'ready', url } satisfies PeerMessage);
process.once('SIGTERM', () => process.exit(0));
process.once('disconnect', () => process.exit(0));
