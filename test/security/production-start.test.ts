// A production start (NODE_ENV=production) refuses to run without a way to verify tokens and a database: the
// Vercel function module is loaded in a child process, as a cold start would, and must exit with the reason.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { assertStartupConfig, readEnv, type Env } from '../../src/env.js';
import { withEnv } from './helpers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SECRET = 'production-secret-that-is-long-enough-0123456789';

/** Loads api/graphql.ts in a fresh Node process with only the given variables (plus PATH); resolves its exit code and output. */
function coldStart(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'api/graphql.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('a production cold start of api/graphql.ts', () => {
  it('refuses to start without a token-verification setting and MONGODB_URI, and starts with both', async () => {
    const [neither, both] = await Promise.all([
      coldStart({}),
      coldStart({ AUTH_JWT_SECRET: SECRET, MONGODB_URI: 'mongodb://127.0.0.1:9' }),
    ]);
    expect(neither.code).not.toBe(0);
    expect(neither.output).toContain('Refusing to start in production: set AUTH_JWT_SECRET or AUTH_JWKS_URL and MONGODB_URI.');
    // Loading the module neither connects nor listens, so an unreachable database does not matter here.
    expect(both).toEqual({ code: 0, output: '' });
  });
});

describe('the startup check the entry points run first', () => {
  const production = (env: Partial<Env>): Env => ({ NODE_ENV: 'production', ...env }) as Env;

  it('names whichever of the two is missing', () => {
    expect(() => assertStartupConfig(production({ MONGODB_URI: 'mongodb://db' }))).toThrow(
      'Refusing to start in production: set AUTH_JWT_SECRET or AUTH_JWKS_URL.',
    );
    expect(() => assertStartupConfig(production({ AUTH_JWT_SECRET: SECRET }))).toThrow('Refusing to start in production: set MONGODB_URI.');
    expect(() => assertStartupConfig(production({ AUTH_JWT_SECRET: SECRET, MONGODB_URI: 'mongodb://db' }))).not.toThrow();
  });

  it('wants iss and aud checks and https for a hosted identity provider', () => {
    const jwks = (env: Partial<Env>) => production({ MONGODB_URI: 'mongodb://db', ...env });
    expect(() => assertStartupConfig(jwks({ AUTH_JWKS_URL: 'https://idp.example/jwks.json' }))).toThrow(/AUTH_ISSUER and AUTH_AUDIENCE/);
    expect(() => assertStartupConfig(jwks({ AUTH_JWKS_URL: 'http://idp.example/jwks.json', AUTH_ISSUER: 'i', AUTH_AUDIENCE: 'a' }))).toThrow(
      /must be https/,
    );
    expect(() => assertStartupConfig(jwks({ AUTH_JWKS_URL: 'https://idp.example/jwks.json', AUTH_ISSUER: 'i', AUTH_AUDIENCE: 'a' }))).not.toThrow();
  });

  it('refuses DB_TRACE in production', () => {
    expect(() => assertStartupConfig(production({ AUTH_JWT_SECRET: SECRET, MONGODB_URI: 'mongodb://db', DB_TRACE: '1' }))).toThrow(/DB_TRACE/);
  });

  it('reports malformed security settings, naming each variable', () => {
    const restore = withEnv({ RATE_LIMITS: 'likePost=lots', MAX_DEPTH: 'deep', CORS_ORIGINS: 'ftp://files.example', PERSISTED_OPERATIONS: 'sometimes' });
    try {
      expect(() => readEnv()).toThrow(/Invalid environment/);
      const message = (() => {
        try {
          readEnv();
          return '';
        } catch (error) {
          return (error as Error).message;
        }
      })();
      expect(message).toMatch(/RATE_LIMITS: RATE_LIMITS rule "likePost=lots"/);
      expect(message).toMatch(/MAX_DEPTH: must be a positive whole number/);
      expect(message).toMatch(/CORS_ORIGINS: "ftp:\/\/files.example" is not an origin/);
      expect(message).toMatch(/PERSISTED_OPERATIONS: /);
    } finally {
      restore();
    }
  });
});
