// Keywords: the slug rule. A package's keywords live in its own document (addPackageKeywords); `packages(keyword:)`
// finds packages by one through a multikey index.
import * as z from 'zod/mini';

/** A keyword as stored: lowercase letters, digits and single hyphens, 1-50 characters. */
export const KeywordSchema = z.string().check(
  z.trim(),
  z.toLowerCase(),
  z.minLength(1, 'Keyword is empty'),
  z.maxLength(50, 'Keyword is at most 50 characters'),
  z.regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'Keyword must be letters, digits and single hyphens'),
);
