// Publish tokens: the PublishToken type, `viewer { publishTokens }`, and the createPublishToken and revokePublishToken
// mutations. A token authenticates publishRelease and the draft mutations for its packages (src/auth/token.ts, the kit).
import { ObjectId } from 'mongodb';
import * as z from 'zod/mini';
import { builder } from '../builder.js';
import { cacheHint } from '../http/cache-control.plugin.js';
import { fail, mapResult, NotFoundError, ok, ValidationError } from '../errors.js';
import { defineMutation } from '../mutation-kit.js';
import { normalizePackageName, PackageNameSchema } from '../packages/package-name.js';
import { User } from '../users/user.schema.js';
import { findPublishTokens, insertPublishToken, type PublishTokenDoc, revokePublishToken } from './publish-token.ops.js';

const PublishToken = builder.objectRef<PublishTokenDoc>('PublishToken').implement({
  description: 'A credential for CI: publishes releases and drafts of its packages only. Its secret is shown once, at creation.',
  fields: (t) => ({
    id: t.id({ resolve: (token) => token._id.toHexString() }),
    name: t.exposeString('name'),
    prefix: t.exposeString('prefix', { description: 'The first characters of the secret, to tell tokens apart.' }),
    packageNames: t.exposeStringList('packageNames', { description: 'Normalized names of the packages it may publish to.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true, description: 'To the minute: written at most once a minute.' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true, description: 'Null: it never expires.' }),
  }),
});

builder.objectField(User, 'publishTokens', (t) =>
  t.field({
    type: [PublishToken],
    nullable: true,
    description: 'Your unrevoked publish tokens, newest first: on `viewer` signed in (not with a publish token); null anywhere else.',
    extensions: cacheHint({ private: true }),
    resolve: (user, _args, ctx) => (ctx.viewer && !ctx.viewer.publishToken && ctx.viewer.id === user.id ? findPublishTokens(ctx.db, user.id) : null),
  }),
);

const CreatePublishTokenInput = builder.inputType('CreatePublishTokenInput', {
  fields: (t) => ({
    name: t.string({ required: true, validate: z.string().check(z.trim(), z.minLength(1, 'Name is required'), z.maxLength(100, 'Name is at most 100 characters')) }),
    packageNames: t.stringList({
      required: true,
      description: 'The packages it may publish to; it works only while you maintain them.',
      validate: z.array(PackageNameSchema).check(z.minLength(1, 'Give at least one package'), z.maxLength(50, 'At most 50 packages per token')),
    }),
    expiresInDays: t.int({ description: 'Null: it never expires.', validate: z.nullish(z.int().check(z.minimum(1, 'At least 1 day'), z.maximum(366, 'At most 366 days'))) }),
  }),
});

defineMutation('createPublishToken', {
  description:
    'Creates a publish token and returns its secret, once: only its SHA-256 is kept. Send it without an Idempotency-Key (a stored answer would keep the secret); if an answer is lost, revoke that token and create another.',
  auth: 'user',
  rateLimit: 'createPublishToken',
  args: (arg) => ({ input: arg({ type: CreatePublishTokenInput, required: true }) }),
  errors: [],
  success: builder.objectRef<{ secret: string; token: PublishTokenDoc }>('CreatePublishTokenSuccess').implement({
    fields: (t) => ({
      secret: t.exposeString('secret', { description: 'Shown this once: `Authorization: Bearer <secret>`.' }),
      publishToken: t.field({ type: PublishToken, resolve: (r) => r.token }),
    }),
  }),
  run: async ({ input }, { db, viewer, effectKey }) => {
    if (effectKey !== null) {
      return fail(new ValidationError('createPublishToken takes no Idempotency-Key: its answer carries a secret that must never be stored.'));
    }
    const packageNames = [...new Set(input.packageNames.map(normalizePackageName))];
    return ok(await insertPublishToken(db, { userId: viewer.id, name: input.name, packageNames, expiresInDays: input.expiresInDays ?? null }));
  },
});

const TokenIdSchema = z.string().check(z.regex(/^[0-9a-f]{24}$/i, 'Publish token ids are 24 hexadecimal characters'));

defineMutation('revokePublishToken', {
  description: 'Revokes one of your publish tokens at once; idempotent.',
  auth: 'user',
  rateLimit: 'revokePublishToken',
  args: (arg) => ({ id: arg.id({ required: true, validate: TokenIdSchema }) }),
  errors: [NotFoundError],
  success: builder.objectRef<{ publishToken: PublishTokenDoc }>('RevokePublishTokenSuccess').implement({
    fields: (t) => ({ publishToken: t.field({ type: PublishToken, resolve: (r) => r.publishToken }) }),
  }),
  run: async ({ id }, { db, viewer }) =>
    mapResult(await revokePublishToken(db, { id: new ObjectId(String(id)), userId: viewer.id }), (publishToken) => ({ publishToken })),
});
