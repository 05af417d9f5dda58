// SCRAM-SHA-256 (RFC 5802 / RFC 7677) for the one user the server may be started with: saslStart, saslContinue, speculative hello.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { Binary, type Document } from 'bson';
import { DbError } from './errors.js';

/** What the server keeps of a password (as mongod's admin.system.users does): never the password itself. */
export interface ScramUser {
  user: string;
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** One connection's authentication: who it is, and the conversation in progress. */
export interface AuthState {
  user?: string;
  conversation?: { id: number; user: string; clientFirstBare: string; serverFirst: string; nonce: string; skipEmpty: boolean; finished: boolean };
}

const MECHANISM = 'SCRAM-SHA-256';
/** mongod's default for SCRAM-SHA-256 (scramSHA256IterationCount). */
const ITERATIONS = 15_000;

const hmac = (key: Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();

/**
 * SASLprep (RFC 4013) reduced to its normalization step: NFKC, which is what it does to every password a person
 * types; the prohibited-character checks only refuse exotic passwords.
 */
const prepare = (password: string): string => password.normalize('NFKC');

export function scramUser(user: string, password: string): ScramUser {
  if (!user) throw new Error('embedded-db: the user name must not be empty');
  const salt = randomBytes(28);
  const salted = pbkdf2Sync(prepare(password), salt, ITERATIONS, 32, 'sha256');
  return { user, salt, iterations: ITERATIONS, storedKey: createHash('sha256').update(hmac(salted, 'Client Key')).digest(), serverKey: hmac(salted, 'Server Key') };
}

const authFailed = (): DbError => new DbError(18, 'Authentication failed.');

function payloadText(v: unknown): string {
  if (v instanceof Binary) return Buffer.from(v.buffer.subarray(0, v.position)).toString('utf8');
  if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
  if (typeof v === 'string') return v;
  throw new DbError(14, "BSON field 'payload' is the wrong type, expected type 'binData'");
}

/** `a=1,b=2` attributes of a SCRAM message. */
function attributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) out.set(part[0], part.slice(2));
  }
  return out;
}

const unescapeName = (n: string): string => n.replace(/=2C/g, ',').replace(/=3D/g, '=');

let nextConversation = 1;

/** saslStart (and hello's speculativeAuthenticate): checks the mechanism, answers the server-first message. */
export function saslStart(users: ScramUser | undefined, state: AuthState, cmd: Document, db: string): Document {
  const mechanism = cmd.mechanism;
  if (mechanism !== MECHANISM) throw new DbError(334, `Received authentication for mechanism ${String(mechanism)} which is not enabled`);
  const clientFirst = payloadText(cmd.payload);
  // gs2 header: no channel binding ("n,,"), then the bare message "n=user,r=nonce".
  if (!clientFirst.startsWith('n,,')) throw new DbError(17, 'SCRAM: channel binding is not supported');
  const clientFirstBare = clientFirst.slice(3);
  const attrs = attributes(clientFirstBare);
  const user = unescapeName(attrs.get('n') ?? '');
  const clientNonce = attrs.get('r');
  if (!clientNonce) throw new DbError(17, 'SCRAM: the client nonce is missing');
  // An unknown user or database still gets a conversation, so a client cannot tell which part was wrong.
  const known = users && db === 'admin' && user === users.user ? users : undefined;
  const salt = known?.salt ?? createHash('sha256').update(`embedded-db:${user}`).digest().subarray(0, 28);
  const nonce = clientNonce + randomBytes(24).toString('base64');
  const serverFirst = `r=${nonce},s=${salt.toString('base64')},i=${known?.iterations ?? ITERATIONS}`;
  const id = nextConversation++;
  state.conversation = { id, user: known ? user : '', clientFirstBare, serverFirst, nonce, skipEmpty: (cmd.options as Document | undefined)?.skipEmptyExchange === true, finished: false };
  return { conversationId: id, done: false, payload: new Binary(Buffer.from(serverFirst)), ok: 1 };
}

/** saslContinue: verifies the client proof (error 18 if wrong) and answers the server signature. */
export function saslContinue(users: ScramUser | undefined, state: AuthState, cmd: Document): Document {
  const conv = state.conversation;
  if (!conv || Number(cmd.conversationId) !== conv.id) throw new DbError(17, 'No SASL session state found');
  if (conv.finished) {
    // The final, empty exchange of clients that do not ask to skip it.
    state.conversation = undefined;
    return { conversationId: conv.id, done: true, payload: new Binary(Buffer.alloc(0)), ok: 1 };
  }
  const clientFinal = payloadText(cmd.payload);
  const attrs = attributes(clientFinal);
  const proof = Buffer.from(attrs.get('p') ?? '', 'base64');
  state.conversation = undefined;
  if (!users || !conv.user || attrs.get('r') !== conv.nonce || attrs.get('c') !== 'biws' || proof.length !== 32) throw authFailed();
  const withoutProof = clientFinal.slice(0, clientFinal.lastIndexOf(',p='));
  const authMessage = `${conv.clientFirstBare},${conv.serverFirst},${withoutProof}`;
  const signature = hmac(users.storedKey, authMessage);
  const clientKey = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) clientKey[i] = proof[i] ^ signature[i];
  if (!timingSafeEqual(createHash('sha256').update(clientKey).digest(), users.storedKey)) throw authFailed();
  state.user = conv.user;
  const serverFinal = `v=${hmac(users.serverKey, authMessage).toString('base64')}`;
  if (!conv.skipEmpty) {
    state.conversation = { ...conv, finished: true };
    return { conversationId: conv.id, done: false, payload: new Binary(Buffer.from(serverFinal)), ok: 1 };
  }
  return { conversationId: conv.id, done: true, payload: new Binary(Buffer.from(serverFinal)), ok: 1 };
}
