// Credits: the Transfer, Payout and Sponsor types, the viewer's wallet and ledgers, a package's sponsor balance and
// sponsors, and the sponsorPackage, withdrawSponsorship and requestPayout mutations (docs/credits.md).
import { resolveCursorConnection, type ResolveCursorConnectionArgs } from '@pothos/plugin-relay';
import { GraphQLError } from 'graphql';
import * as z from 'zod/mini';
import { builder } from '../builder.js';
import { cacheHint } from '../http/cache-control.plugin.js';
import { ForbiddenError, InsufficientFundsError, NotFoundError } from '../errors.js';
import { defineMutation } from '../mutation-kit.js';
import { assertPageSize } from '../pagination.js';
import { normalizePackageName, PackageNameSchema } from '../packages/package-name.js';
import { Package } from '../packages/package.schema.js';
import { User } from '../users/user.schema.js';
import {
  findCredits,
  findSponsorBalances,
  findSponsorPage,
  findTransferPage,
  type LedgerCursor,
  type LedgerPage,
  MAX_TRANSFER_AMOUNT,
  sponsorPackage,
  type SponsorView,
  type TransferView,
  withdrawSponsorship,
} from './credits.ops.js';
import { findPayoutPage, type PayoutView, requestPayout } from './payout.ops.js';

export const AmountSchema = z
  .int()
  .check(z.minimum(1, 'amount must be a positive integer'), z.maximum(MAX_TRANSFER_AMOUNT, `amount is at most ${MAX_TRANSFER_AMOUNT.toLocaleString('en')}`));

const TransferStatusEnum = builder.enumType('TransferStatus', {
  description: 'PENDING until both sides moved (or its repair); COMPLETED; REVERSED when the credit could not land and the source was refunded.',
  values: ['PENDING', 'COMPLETED', 'REVERSED'] as const,
});
const TransferKindEnum = builder.enumType('TransferKind', { values: ['SPONSORSHIP', 'WITHDRAWAL'] as const });
const PayoutStatusEnum = builder.enumType('PayoutStatus', {
  description: 'PENDING until the provider confirmed it (SENT) or refused it (FAILED, and the amount refunded once).',
  values: ['PENDING', 'SENT', 'FAILED'] as const,
});

export const Transfer = builder.objectRef<TransferView>('Transfer').implement({
  fields: (t) => ({
    id: t.exposeID('_id'),
    kind: t.field({ type: TransferKindEnum, resolve: (r) => r.kind }),
    amount: t.exposeInt('amount'),
    status: t.field({ type: TransferStatusEnum, resolve: (r) => r.status }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    package: t.field({ type: Package, nullable: true, resolve: (r) => r.packageName }),
  }),
});

export const Payout = builder.objectRef<PayoutView>('Payout').implement({
  fields: (t) => ({
    id: t.exposeID('_id'),
    amount: t.exposeInt('amount'),
    status: t.field({ type: PayoutStatusEnum, resolve: (r) => r.status }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    sentAt: t.expose('sentAt', { type: 'DateTime', nullable: true }),
  }),
});

const Sponsor = builder.objectRef<SponsorView>('Sponsor').implement({
  fields: (t) => ({
    user: t.field({ type: User, resolve: (s) => s.userId }),
    amount: t.exposeInt('amount', { description: 'Sum of this user’s completed sponsorships of the package.' }),
    lastSponsoredAt: t.expose('lastSponsoredAt', { type: 'DateTime' }),
  }),
});

function encodeLedgerCursor(cursor: LedgerCursor): string {
  return Buffer.from(JSON.stringify([cursor.at.getTime(), cursor.id])).toString('base64url');
}

function decodeLedgerCursor(cursor: string): LedgerCursor {
  try {
    const [time, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    const at = new Date(typeof time === 'number' ? time : NaN);
    if (!Number.isNaN(at.getTime()) && typeof id === 'string') return { at, id };
  } catch {
    // fall through to the error below
  }
  throw new GraphQLError('The cursor is not one this API returned.', { extensions: { code: 'BAD_USER_INPUT' } });
}

function ledgerPage({ before, after, limit, inverted }: ResolveCursorConnectionArgs): LedgerPage {
  return {
    after: after === undefined ? undefined : decodeLedgerCursor(after),
    before: before === undefined ? undefined : decodeLedgerCursor(before),
    limit,
    inverted,
  };
}

const PRIVATE = 'Only the signed-in user sees their own; null on any other user (User is also an author and a maintainer).';

builder.objectFields(User, (t) => ({
  credits: t.int({
    nullable: true,
    description: `The wallet's balance in the smallest unit. ${PRIVATE}`,
    extensions: cacheHint({ private: true }),
    resolve: (user, _args, ctx) => (ctx.viewer?.id === user.id ? findCredits(ctx.db, user.id) : null),
  }),
  transfers: t.connection({
    type: Transfer,
    nullable: true,
    description: `Sponsorships made and withdrawals received, newest first. ${PRIVATE}`,
    extensions: cacheHint({ private: true }),
    resolve: (user, args, ctx) => {
      if (ctx.viewer?.id !== user.id) return null;
      assertPageSize(args);
      return resolveCursorConnection({ args, toCursor: (r: TransferView) => encodeLedgerCursor({ at: r.createdAt, id: r._id }) }, (page: ResolveCursorConnectionArgs) =>
        findTransferPage(ctx.db, user.id, ledgerPage(page)),
      );
    },
  }),
  payouts: t.connection({
    type: Payout,
    nullable: true,
    description: `Payouts requested, newest first. ${PRIVATE}`,
    extensions: cacheHint({ private: true }),
    resolve: (user, args, ctx) => {
      if (ctx.viewer?.id !== user.id) return null;
      assertPageSize(args);
      return resolveCursorConnection({ args, toCursor: (r: PayoutView) => encodeLedgerCursor({ at: r.createdAt, id: r._id }) }, (page: ResolveCursorConnectionArgs) =>
        findPayoutPage(ctx.db, user.id, ledgerPage(page)),
      );
    },
  }),
}));

builder.objectFields(Package, (t) => ({
  sponsorBalance: t.loadable({
    type: 'Int',
    description: 'Credits sponsors gave and maintainers have not withdrawn yet.',
    load: async (names: string[], ctx) => {
      const balances = await findSponsorBalances(ctx.db, names);
      return names.map((name) => balances.get(name) ?? 0);
    },
    resolve: (pkg) => pkg._id,
  }),
  sponsors: t.connection({
    type: Sponsor,
    description: 'Who sponsored the package and how much in all (summed by an aggregation), most recent sponsorship first.',
    resolve: (pkg, args, ctx) => {
      assertPageSize(args);
      return resolveCursorConnection({ args, toCursor: (s: SponsorView) => encodeLedgerCursor({ at: s.lastSponsoredAt, id: s.userId }) }, (page: ResolveCursorConnectionArgs) =>
        findSponsorPage(ctx.db, pkg._id, ledgerPage(page)),
      );
    },
  }),
}));

const TransferInputFields = (name: string, what: string) =>
  builder.inputType(name, {
    fields: (t) => ({
      packageName: t.string({ required: true, validate: PackageNameSchema }),
      amount: t.int({ required: true, description: `${what}: a positive whole number of the smallest unit, at most 1,000,000.`, validate: AmountSchema }),
    }),
  });

const SponsorPackageInput = TransferInputFields('SponsorPackageInput', 'Credits to move from your wallet to the package');
const WithdrawSponsorshipInput = TransferInputFields('WithdrawSponsorshipInput', 'Credits to move from the package’s sponsor balance to your wallet');

const RequestPayoutInput = builder.inputType('RequestPayoutInput', {
  fields: (t) => ({
    amount: t.int({ required: true, description: 'Credits to pay out: a positive whole number, at most 1,000,000.', validate: AmountSchema }),
  }),
});

function transferSuccess(name: string) {
  return builder.objectRef<{ transfer: TransferView; balance: number }>(name).implement({
    fields: (t) => ({
      transfer: t.field({ type: Transfer, resolve: (r) => r.transfer }),
      balance: t.exposeInt('balance', { description: 'Your wallet’s balance right after the transfer.' }),
    }),
  });
}

defineMutation('sponsorPackage', {
  description: 'Moves credits from your wallet to the package’s sponsor balance, exactly once.',
  auth: 'user',
  rateLimit: 'sponsorPackage',
  args: (arg) => ({ input: arg({ type: SponsorPackageInput, required: true }) }),
  errors: [InsufficientFundsError, NotFoundError],
  success: transferSuccess('SponsorPackageSuccess'),
  run: ({ input }, { db, viewer, effectKey }) =>
    sponsorPackage(db, { userId: viewer.id, packageName: normalizePackageName(input.packageName), amount: input.amount }, effectKey),
});

defineMutation('withdrawSponsorship', {
  description: 'A maintainer moves credits from the package’s sponsor balance to their wallet, exactly once.',
  auth: 'user',
  rateLimit: 'withdrawSponsorship',
  args: (arg) => ({ input: arg({ type: WithdrawSponsorshipInput, required: true }) }),
  errors: [InsufficientFundsError, NotFoundError, ForbiddenError],
  success: transferSuccess('WithdrawSponsorshipSuccess'),
  run: ({ input }, { db, viewer, effectKey }) =>
    withdrawSponsorship(db, { userId: viewer.id, packageName: normalizePackageName(input.packageName), amount: input.amount }, effectKey),
});

defineMutation('requestPayout', {
  description: 'Debits your wallet and pays the amount out through the payment provider, exactly once (status PENDING until sent).',
  auth: 'user',
  rateLimit: 'requestPayout',
  args: (arg) => ({ input: arg({ type: RequestPayoutInput, required: true }) }),
  errors: [InsufficientFundsError],
  success: builder.objectRef<{ payout: PayoutView; balance: number }>('RequestPayoutSuccess').implement({
    fields: (t) => ({
      payout: t.field({ type: Payout, resolve: (r) => r.payout }),
      balance: t.exposeInt('balance', { description: 'Your wallet’s balance right after the debit.' }),
    }),
  }),
  run: ({ input }, { db, viewer, effectKey }) => requestPayout(db, { userId: viewer.id, amount: input.amount }, effectKey),
});
