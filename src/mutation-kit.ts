// The one pipeline every mutation runs, so a mutation is a declaration: its auth scope, rate-limit rule, arguments
// (each with its GraphQL type and zod schema in one place, checked by Pothos' validation plugin), the op, and the
// success type. The order is fixed here: sign-in -> input validation -> rate limit -> the viewer's user document ->
// the Idempotency-Key claim (so a request refused before any effect stores no key record) -> the op -> typed errors.
import type { ArgBuilder, InputFieldMap, InputShapeFromFields, ObjectRef } from '@pothos/core';
import { GraphQLError } from 'graphql';
import type { Db } from 'mongodb';
import type { Viewer } from './auth/token.js';
import { builder } from './builder.js';
import type { Context } from './context.js';
import { type AppError, ForbiddenError, RateLimitedError, type Result, unwrap, ValidationError } from './errors.js';
import { enforceRateLimit } from './security/rate-limit.js';
import type { RateLimitRuleName } from './security/rate-limit-rules.js';
import { ensureUser } from './users/user.ops.js';

type BuilderTypes = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;
type ErrorClass = abstract new (...args: never[]) => AppError;

/** What an op gets: the database, who asks, and this field's own effect key (null without an Idempotency-Key). */
export interface MutationScope<V extends Viewer | null> {
  db: Db;
  viewer: V;
  effectKey: string | null;
}

interface MutationSpec<Args extends InputFieldMap, Value, Auth extends 'user' | 'anyone'> {
  description?: string;
  /** 'user': a signed-in caller (UNAUTHENTICATED otherwise); 'anyone': anonymous callers too. */
  auth: Auth;
  rateLimit: RateLimitRuleName;
  /**
   * The normalized package the call acts on, for mutations a publish token may call (publishRelease, drafts). A
   * publish token is FORBIDDEN on every mutation without it, and on packages outside its scope.
   */
  publishTokenScope?: (args: InputShapeFromFields<Args>) => string;
  args: (arg: ArgBuilder<BuilderTypes>) => Args;
  /** Expected failures beyond VALIDATION and RATE_LIMITED, which every mutation can return. */
  errors: ErrorClass[];
  success: ObjectRef<BuilderTypes, Value>;
  run: (args: InputShapeFromFields<Args>, scope: MutationScope<Auth extends 'user' ? Viewer : Viewer | null>) => Promise<Result<Value>>;
}

/**
 * A publish token may call only mutations that declare a package scope, and only for its packages: FORBIDDEN as a
 * GraphQL error (403) for any other mutation, as the mutation's ForbiddenError result for another package.
 */
function checkPublishTokenScope(token: NonNullable<Viewer['publishToken']>, packageName: string | undefined, errors: ErrorClass[]): void {
  const message = 'This publish token cannot do that: it publishes releases and drafts of its own packages only.';
  if (packageName === undefined || !errors.includes(ForbiddenError)) {
    throw new GraphQLError(message, { extensions: { code: 'FORBIDDEN', http: { status: 403 } } });
  }
  if (!token.packageNames.includes(packageName)) throw new ForbiddenError(message);
}

/** Declares mutation `name` with result union `<Name>Result = <Name>Success | its errors`. */
export function defineMutation<Args extends InputFieldMap, Value, Auth extends 'user' | 'anyone'>(
  name: string,
  spec: MutationSpec<Args, Value, Auth>,
): void {
  const resultName = `${name[0]!.toUpperCase()}${name.slice(1)}Result`;
  builder.mutationField(name, (t) =>
    t.field({
      type: spec.success as never,
      description: spec.description,
      // Read by the rate-limit test: every mutation field names its rule.
      extensions: { rateLimitRule: spec.rateLimit },
      ...(spec.auth === 'user' ? { authScopes: { authenticated: true } } : {}),
      args: spec.args(t.arg),
      errors: { types: [ValidationError, RateLimitedError, ...spec.errors] as never, union: { name: resultName } },
      resolve: async (_root, args, ctx: Context, info) => {
        if (ctx.viewer?.publishToken) checkPublishTokenScope(ctx.viewer.publishToken, spec.publishTokenScope?.(args as InputShapeFromFields<Args>), spec.errors);
        await enforceRateLimit(ctx, spec.rateLimit);
        if (ctx.viewer) await ensureUser(ctx.db, ctx.viewer);
        const effectKey = await ctx.effectKeyFor(String(info.path.key));
        const scope = { db: ctx.db, viewer: ctx.viewer, effectKey } as MutationScope<Auth extends 'user' ? Viewer : Viewer | null>;
        return unwrap(await spec.run(args as InputShapeFromFields<Args>, scope)) as never;
      },
    }),
  );
}
