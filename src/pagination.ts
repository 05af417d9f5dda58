// Page-size rules shared by every connection: clients get a clear error instead of a silently shorter page.
import { GraphQLError } from 'graphql';

export const MAX_PAGE_SIZE = 100;

/** Throws BAD_USER_INPUT when first or last asks for more than 100 items (or a negative number). */
export function assertPageSize(args: { first?: number | null; last?: number | null }): void {
  for (const [name, value] of [['first', args.first], ['last', args.last]] as const) {
    if (value != null && (value < 0 || value > MAX_PAGE_SIZE)) {
      throw new GraphQLError(`"${name}" must be between 0 and ${MAX_PAGE_SIZE}.`, { extensions: { code: 'BAD_USER_INPUT' } });
    }
  }
}
