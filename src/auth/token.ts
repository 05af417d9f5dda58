// Verifies bearer tokens (HS256 with AUTH_JWT_SECRET, or RS256/ES256 from AUTH_JWKS_URL, or a "reg_" publish token
// looked up by its hash) and signs dev tokens.
import { GraphQLError } from 'graphql';
import type { Db } from 'mongodb';
import { createRemoteJWKSet, errors, jwtVerify, SignJWT, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import { readEnv } from '../env.js';
import { logger } from '../logger.js';
import { PUBLISH_TOKEN_PREFIX } from '../tokens/publish-token-secret.js';
import { findPublishTokenGrant } from '../tokens/publish-token.ops.js';

export interface Viewer {
  id: string;
  name: string | null;
  /**
   * Set when a publish token (not a sign-in) authenticated the request: the viewer is its owner, limited to the
   * mutations that declare a package scope (src/mutation-kit.ts) and to these packages.
   */
  publishToken?: { id: string; packageNames: string[] };
}

const MAX_USER_ID_LENGTH = 128;

// The key set is fetched once per instance and cached by jose; created lazily so tests never fetch it.
let remoteKeys: { url: string; keys: JWTVerifyGetKey } | undefined;

function unauthenticated(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } });
}

/**
 * The viewer named by an `Authorization: Bearer` header; null without a header; UNAUTHENTICATED for any bad token. A
 * publish token needs `db`; every refused one gets the same answer, so it never tells whether the token exists.
 */
export async function readViewer(authorization: string | null, db?: Db): Promise<Viewer | null> {
  if (!authorization) return null;
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(authorization.trim());
  if (!match) throw unauthenticated('The Authorization header must be "Bearer <token>".');
  if (match[1]!.startsWith(PUBLISH_TOKEN_PREFIX)) {
    const grant = db ? await findPublishTokenGrant(db, match[1]!) : null;
    if (!grant) throw unauthenticated('The token is invalid.');
    return { id: grant.userId, name: null, publishToken: { id: grant.tokenId, packageNames: grant.packageNames } };
  }
  let payload: JWTPayload;
  try {
    payload = await verifyToken(match[1]!);
  } catch (error) {
    if (error instanceof errors.JWTExpired) throw unauthenticated('The token has expired.');
    if (isKeySetUnavailable(error)) {
      // Not the client's fault: the identity provider's key set could not be fetched, so nobody can be verified now.
      logger.error({ err: error }, 'token key set unavailable');
      throw new GraphQLError('Token verification is unavailable right now; retry shortly.', {
        extensions: { code: 'SERVICE_UNAVAILABLE', http: { status: 503 } },
      });
    }
    throw unauthenticated('The token is invalid.');
  }
  const id = payload.sub;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_USER_ID_LENGTH) {
    throw unauthenticated('The token has no usable subject.');
  }
  const name = typeof payload.name === 'string' ? payload.name.slice(0, 100) : null;
  return { id, name };
}

/** A failure to fetch or read the remote key set, as opposed to a bad token. */
function isKeySetUnavailable(error: unknown): boolean {
  return error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || !(error instanceof errors.JOSEError);
}

// A few seconds of leeway for exp and nbf, so clocks of the issuer and of instances that differ slightly agree.
const CLOCK_TOLERANCE_SECONDS = 5;

async function verifyToken(token: string): Promise<JWTPayload> {
  const env = readEnv();
  // jose checks the signature, alg against the allow-list below (so never "none"), exp and nbf, and iss/aud when set;
  // exp is required so that no token is valid forever.
  const options: JWTVerifyOptions = {
    issuer: env.AUTH_ISSUER,
    audience: env.AUTH_AUDIENCE,
    requiredClaims: ['exp', 'sub'],
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
  };
  if (env.AUTH_JWKS_URL) {
    if (remoteKeys?.url !== env.AUTH_JWKS_URL) {
      remoteKeys = { url: env.AUTH_JWKS_URL, keys: createRemoteJWKSet(new URL(env.AUTH_JWKS_URL)) };
    }
    const { payload } = await jwtVerify(token, remoteKeys.keys, { ...options, algorithms: ['RS256', 'ES256'] });
    return payload;
  }
  if (!env.AUTH_JWT_SECRET) throw new Error('No AUTH_JWT_SECRET or AUTH_JWKS_URL configured');
  const { payload } = await jwtVerify(token, await hmacKey(env.AUTH_JWT_SECRET), {
    ...options,
    algorithms: ['HS256'],
  });
  return payload;
}

// The imported HMAC key, kept per instance: importing it again for every request costs more than verifying.
let cachedHmacKey: { secret: string; key: Promise<CryptoKey> } | undefined;

function hmacKey(secret: string): Promise<CryptoKey> {
  if (cachedHmacKey?.secret !== secret) {
    const key = crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    cachedHmacKey = { secret, key };
  }
  return cachedHmacKey.key;
}

/** Signs an HS256 token for a user with the configured secret (dev server, `npm run token`, tests). */
export async function signToken(
  userId: string,
  { name, secret = readEnv().AUTH_JWT_SECRET, expiresIn = '12h' }: { name?: string; secret?: string; expiresIn?: string } = {},
): Promise<string> {
  if (!secret) throw new Error('AUTH_JWT_SECRET is not set');
  const jwt = new SignJWT(name ? { name } : {}).setProtectedHeader({ alg: 'HS256' }).setSubject(userId).setIssuedAt().setExpirationTime(expiresIn);
  const env = readEnv();
  if (env.AUTH_ISSUER) jwt.setIssuer(env.AUTH_ISSUER);
  if (env.AUTH_AUDIENCE) jwt.setAudience(env.AUTH_AUDIENCE);
  return jwt.sign(new TextEncoder().encode(secret));
}
