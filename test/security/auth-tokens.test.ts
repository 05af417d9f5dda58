// Token verification: HS256 with AUTH_JWT_SECRET and RS256/ES256 from a JWKS served on 127.0.0.1. Expired,
// not-yet-valid, tampered, wrongly signed, "alg: none", algorithm-confused, exp-less and wrong iss/aud tokens are
// all UNAUTHENTICATED (HTTP 401); an unreachable key set is a 503, not a verdict on the token.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi, TEST_JWT_SECRET, type TestApi } from '../helpers/api.js';
import { withEnv } from './helpers.js';

const VIEWER = '{ viewer { id } }';
const secret = new TextEncoder().encode(TEST_JWT_SECRET);
const now = () => Math.floor(Date.now() / 1000);

let api: TestApi;
let keyServer: Server;
let jwksUrl: string;
let keys: { rsa: { privateKey: CryptoKey; publicKey: CryptoKey }; ec: { privateKey: CryptoKey }; stranger: { privateKey: CryptoKey } };
let rsaPublicPem: string;
let keySetBody = '';

beforeAll(async () => {
  api = await startApi('auth-tokens');
  const rsa = await generateKeyPair('RS256', { extractable: true });
  const ec = await generateKeyPair('ES256', { extractable: true });
  const stranger = await generateKeyPair('RS256');
  keys = { rsa, ec, stranger };
  rsaPublicPem = await exportSPKI(rsa.publicKey);
  const jwk = async (key: CryptoKey, kid: string, alg: string): Promise<JWK> => ({ ...(await exportJWK(key)), kid, alg, use: 'sig' });
  keySetBody = JSON.stringify({ keys: [await jwk(rsa.publicKey, 'rsa-1', 'RS256'), await jwk(ec.publicKey, 'ec-1', 'ES256')] });
  keyServer = createServer((req, res) => {
    if (req.url === '/jwks.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(keySetBody);
    } else if (req.url === '/broken.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"not":"a key set"}');
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => keyServer.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(keyServer.address() as AddressInfo).port}/jwks.json`;
});
afterAll(async () => {
  await api.close();
  await new Promise((resolve) => keyServer.close(resolve));
});

function b64(value: object | string): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

function hs256(claims: Record<string, unknown>, key: Uint8Array = secret) {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(key);
}

async function viewerOf(token: string) {
  const response = await api.gql(VIEWER, {}, { token });
  return { status: response.status, id: response.data?.viewer?.id as string | undefined, error: response.errors?.[0] };
}

async function expectUnauthenticated(token: string, message?: RegExp) {
  const { status, error } = await viewerOf(token);
  expect(status).toBe(401);
  expect(error?.extensions?.code).toBe('UNAUTHENTICATED');
  if (message) expect(error?.message).toMatch(message);
}

describe('HS256 (AUTH_JWT_SECRET)', () => {
  const valid = () => ({ sub: 'alice', exp: now() + 600 });

  it('accepts a well-formed token', async () => {
    expect(await viewerOf(await hs256(valid()))).toMatchObject({ status: 200, id: 'alice' });
  });

  it('refuses an expired token, telling it expired', async () => {
    await expectUnauthenticated(await hs256({ sub: 'alice', exp: now() - 60 }), /expired/);
  });

  it('refuses a token that is not valid yet (nbf)', async () => {
    await expectUnauthenticated(await hs256({ ...valid(), nbf: now() + 600 }));
  });

  it('refuses a token without exp, or without sub', async () => {
    await expectUnauthenticated(await hs256({ sub: 'alice' }));
    await expectUnauthenticated(await hs256({ exp: now() + 600 }));
  });

  it('refuses a token whose payload was changed after signing', async () => {
    const [header, , signature] = (await hs256(valid())).split('.');
    await expectUnauthenticated(`${header}.${b64({ sub: 'mallory', exp: now() + 600 })}.${signature}`);
  });

  it('refuses a token whose signature was changed', async () => {
    const token = await hs256(valid());
    const flipped = token.slice(0, -2) + (token.at(-2) === 'A' ? 'B' : 'A') + token.at(-1);
    await expectUnauthenticated(flipped);
  });

  it('refuses a token signed with another secret', async () => {
    await expectUnauthenticated(await hs256(valid(), new TextEncoder().encode('another-secret-that-is-long-enough-0123456789')));
  });

  it('refuses "alg: none" tokens, with or without a signature part', async () => {
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(valid())}`;
    await expectUnauthenticated(`${unsigned}.`);
    await expectUnauthenticated(unsigned);
  });

  it('refuses an RS256 token when only HS256 is configured', async () => {
    const token = await new SignJWT(valid()).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' }).sign(keys.rsa.privateKey);
    await expectUnauthenticated(token);
  });

  it('refuses a header that is not "Bearer <token>"', async () => {
    const response = await api.gql(VIEWER, {}, { headers: { authorization: `Basic ${b64('alice:pw')}` } });
    expect(response.status).toBe(401);
    expect(response.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('checks iss and aud when AUTH_ISSUER and AUTH_AUDIENCE are set', async () => {
    const restore = withEnv({ AUTH_ISSUER: 'https://issuer.example', AUTH_AUDIENCE: 'registry-api' });
    try {
      const base = { ...valid(), iss: 'https://issuer.example', aud: 'registry-api' };
      expect((await viewerOf(await hs256(base))).id).toBe('alice');
      await expectUnauthenticated(await hs256({ ...base, iss: 'https://other.example' }));
      await expectUnauthenticated(await hs256({ ...base, aud: 'another-api' }));
      await expectUnauthenticated(await hs256(valid()));
    } finally {
      restore();
    }
  });
});

describe('RS256/ES256 from AUTH_JWKS_URL', () => {
  let restore: () => void;
  beforeAll(() => {
    restore = withEnv({ AUTH_JWKS_URL: jwksUrl, AUTH_ISSUER: 'https://idp.example', AUTH_AUDIENCE: 'registry-api' });
  });
  afterAll(() => restore());

  const claims = () => ({ sub: 'erin', exp: now() + 600, iss: 'https://idp.example', aud: 'registry-api' });
  const sign = (alg: string, kid: string, key: CryptoKey, payload: Record<string, unknown> = claims()) =>
    new SignJWT(payload).setProtectedHeader({ alg, kid }).sign(key);

  it('accepts RS256 and ES256 tokens signed by keys of the set', async () => {
    expect(await viewerOf(await sign('RS256', 'rsa-1', keys.rsa.privateKey))).toMatchObject({ status: 200, id: 'erin' });
    expect(await viewerOf(await sign('ES256', 'ec-1', keys.ec.privateKey))).toMatchObject({ status: 200, id: 'erin' });
  });

  it('refuses a token signed by a key outside the set, even under a known kid', async () => {
    await expectUnauthenticated(await sign('RS256', 'rsa-1', keys.stranger.privateKey));
    await expectUnauthenticated(await sign('RS256', 'unknown-kid', keys.stranger.privateKey));
  });

  it('refuses expired and wrong-audience tokens', async () => {
    await expectUnauthenticated(await sign('RS256', 'rsa-1', keys.rsa.privateKey, { ...claims(), exp: now() - 60 }), /expired/);
    await expectUnauthenticated(await sign('RS256', 'rsa-1', keys.rsa.privateKey, { ...claims(), aud: 'another-api' }));
  });

  it('refuses HS256 tokens: neither the old secret nor the public key used as an HMAC secret (algorithm confusion)', async () => {
    await expectUnauthenticated(await hs256(claims()));
    await expectUnauthenticated(await hs256(claims(), new TextEncoder().encode(rsaPublicPem)));
  });

  it('refuses "alg: none"', async () => {
    await expectUnauthenticated(`${b64({ alg: 'none', kid: 'rsa-1' })}.${b64(claims())}.`);
  });

  it('answers 503 when the key set cannot be fetched or read, rather than calling the token invalid', async () => {
    const token = await sign('RS256', 'rsa-1', keys.rsa.privateKey);
    for (const url of ['http://127.0.0.1:9/jwks.json', jwksUrl.replace('jwks.json', 'broken.json')]) {
      const restoreUrl = withEnv({ AUTH_JWKS_URL: url });
      try {
        const response = await api.gql(VIEWER, {}, { token });
        expect(response.status, url).toBe(503);
        expect(response.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
      } finally {
        restoreUrl();
      }
    }
  });
});
