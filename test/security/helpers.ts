// Helpers for the security suites: switching environment variables between requests, counting the database
// commands the API's own MongoClient starts, and raw HTTP requests the GraphQL client helper cannot express.
import type { CommandStartedEvent } from 'mongodb';
import { getMongoClient } from '../../src/db/client.js';
import { resetEnv } from '../../src/env.js';

/** Sets (or, with undefined, unsets) variables for the following requests; returns a function that restores them. */
export function withEnv(vars: Record<string, string | undefined>): () => void {
  const saved = Object.fromEntries(Object.keys(vars).map((key) => [key, process.env[key]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    resetEnv();
  };
  apply(vars);
  return () => apply(saved);
}

const HANDSHAKE = new Set(['hello', 'isMaster', 'ismaster', 'ping', 'endSessions', 'saslStart', 'saslContinue']);

/**
 * Records every command the API's MongoClient starts, whether or not GraphQL execution began (DB_TRACE only sees
 * commands inside execution). Needs the client created with monitorCommands, which startApi's DB_TRACE=1 does.
 */
export function watchDatabaseCommands(): { names: () => string[]; reset: () => void; stop: () => void } {
  const client = getMongoClient();
  let seen: string[] = [];
  const listener = (event: CommandStartedEvent) => {
    if (!HANDSHAKE.has(event.commandName)) seen.push(`${event.commandName}:${String(event.command[event.commandName])}`);
  };
  client.on('commandStarted', listener);
  return {
    names: () => [...seen],
    reset: () => {
      seen = [];
    },
    stop: () => client.off('commandStarted', listener),
  };
}

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

/** Any HTTP request to the API; the body is parsed as JSON when it is JSON. */
export async function rawRequest(url: string, init: RequestInit = {}): Promise<RawResponse> {
  const response = await fetch(url, init);
  const text = await response.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON (GraphiQL's HTML, an empty 204)
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** A JSON POST of a GraphQL request, with extra headers. */
export function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
  return rawRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}
