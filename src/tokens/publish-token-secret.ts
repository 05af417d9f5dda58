// Publish-token secrets: "reg_" + 32 CSPRNG bytes in base62 + a CRC32 checksum in base62, so secret scanners (GitHub
// push protection and the like) can recognize a real token by its shape and checksum without asking the registry.
import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const PUBLISH_TOKEN_PREFIX = 'reg_';
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SECRET_BYTES = 32;
/** 32 bytes need at most 43 base62 digits; padded so every secret has the same length. */
const BODY_LENGTH = 43;
const CHECKSUM_LENGTH = 6;
/** What `viewer { publishTokens }` shows of a token to tell it apart: "reg_" and 8 characters (47 bits, not a secret). */
const SHOWN_PREFIX_LENGTH = PUBLISH_TOKEN_PREFIX.length + 8;

/** Draws the random bytes of a secret; tests inject a deterministic one to force collisions. */
export type SecretSource = () => Buffer;

export const cryptoSecretSource: SecretSource = () => randomBytes(SECRET_BYTES);

function base62(value: bigint, length: number): string {
  let out = '';
  let rest = value;
  while (rest > 0n) {
    out = ALPHABET[Number(rest % 62n)] + out;
    rest /= 62n;
  }
  return out.padStart(length, '0');
}

function checksum(body: string): string {
  return base62(BigInt(crc32(body)), CHECKSUM_LENGTH);
}

/** A new secret from the source's bytes (at least 32 of them). */
export function newPublishTokenSecret(source: SecretSource = cryptoSecretSource): string {
  const bytes = source();
  if (bytes.length < SECRET_BYTES) throw new Error(`a publish token needs ${SECRET_BYTES} random bytes`);
  const body = base62(BigInt(`0x${bytes.toString('hex')}`), BODY_LENGTH);
  return `${PUBLISH_TOKEN_PREFIX}${body}${checksum(body)}`;
}

/** Whether the string has a publish token's shape and a valid checksum (a typo or a truncated copy fails here). */
export function isWellFormedPublishToken(secret: string): boolean {
  if (!secret.startsWith(PUBLISH_TOKEN_PREFIX) || secret.length !== PUBLISH_TOKEN_PREFIX.length + BODY_LENGTH + CHECKSUM_LENGTH) return false;
  const body = secret.slice(PUBLISH_TOKEN_PREFIX.length, -CHECKSUM_LENGTH);
  return /^[0-9A-Za-z]+$/.test(body) && checksum(body) === secret.slice(-CHECKSUM_LENGTH);
}

/** The only form of a secret the registry stores: its SHA-256, hex. */
export function hashPublishToken(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function shownPrefix(secret: string): string {
  return secret.slice(0, SHOWN_PREFIX_LENGTH);
}
