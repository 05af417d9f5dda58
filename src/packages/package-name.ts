// Package names follow PyPI's rules (PEP 508 names) and are compared in PEP 503 normalized form.
import * as z from 'zod/mini';

const VALID_NAME = /^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$/i;
export const MAX_PACKAGE_NAME_LENGTH = 100;

/** "Foo__Bar.baz" -> "foo-bar-baz": lowercase, every run of "-", "_" and "." becomes one "-". */
export function normalizePackageName(name: string): string {
  return name.replace(/[-_.]+/g, '-').toLowerCase();
}

/** A package name as typed: trimmed, PyPI-valid, at most 100 characters. */
export const PackageNameSchema = z.string().check(
  z.trim(),
  z.minLength(1, 'Package name is required'),
  z.maxLength(MAX_PACKAGE_NAME_LENGTH, `Package name is at most ${MAX_PACKAGE_NAME_LENGTH} characters`),
  z.regex(VALID_NAME, 'Package name must be letters, digits, ".", "_" or "-", starting and ending with a letter or digit'),
);
