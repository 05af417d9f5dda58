// The Idempotency-Key header and what a key is compared by: its scope (the caller) and the request's fingerprint.
import { createHash } from 'node:crypto';
import { print, type DocumentNode } from 'graphql';
import type { Viewer } from '../auth/token.js';

export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

// The IETF httpapi draft makes the value a Structured Field string: 1-255 printable ASCII characters. Clients
// commonly send it bare (Stripe style); a quoted sf-string ("...", with \" and \\ escapes) is unwrapped, so
// `"abc"` and `abc` are the same key.
const BARE_KEY = /^[\x20-\x7E]{1,255}$/;
const QUOTED_KEY = /^"((?:[\x20\x21\x23-\x5B\x5D-\x7E]|\\["\\]){1,255})"$/;

/** The key a header value carries, or null when it is not 1-255 printable ASCII characters. */
export function parseIdempotencyKey(header: string): string | null {
  const quoted = QUOTED_KEY.exec(header);
  if (quoted) {
    const key = quoted[1]!.replace(/\\(["\\])/g, '$1');
    return key.length <= 255 ? key : null;
  }
  return BARE_KEY.test(header) ? header : null;
}

/**
 * Whose key it is. Signed-in callers have their own namespace, so two users can never collide or read each other's
 * answers. Anonymous callers share one namespace: the client address is not a usable scope for mobile clients, whose
 * address changes between a request and its retry (Wi-Fi to cellular), and their answers carry only public data.
 * Anonymous keys must therefore be unguessable (a UUID per intent), which the docs require anyway.
 */
export function keyScope(viewer: Viewer | null): string {
  return viewer === null ? 'anonymous' : `user:${viewer.id}`;
}

/** The record id of a key: a hash, so the raw key (client data) is never stored or indexed. */
export function keyRecordId(scope: string, key: string): string {
  return sha256(JSON.stringify([scope, key]));
}

/**
 * What "the same request" means: the operation name, the document normalized by graphql's printer (whitespace,
 * commas and comments do not count) and the variables as canonical JSON (key order does not count).
 */
export function requestFingerprint(operationName: string | null | undefined, document: DocumentNode, variables: unknown): string {
  return sha256(JSON.stringify([operationName ?? null, print(document), canonicalJson(variables ?? {})]));
}

/** JSON with object keys sorted at every depth, so equal values always give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const source = value as Record<string, unknown>;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(source).sort()) sorted[key] = sortKeys(source[key]);
  return sorted;
}

/** Deeper than any input of this API: a value nested further is refused before anything walks it recursively. */
export const MAX_VARIABLE_DEPTH = 32;

/** Whether a JSON value nests arrays/objects deeper than `limit`; iterative, so any depth is safe to ask about. */
export function variablesDepthExceeds(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return false;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
