// Builds the trusted-documents manifest (sha256 hex of a document -> the document) from a file of named
// operations: each operation printed with exactly the fragments it uses, so its hash is stable and self-contained.
import { createHash } from 'node:crypto';
import { type DefinitionNode, type DocumentNode, type FragmentDefinitionNode, Kind, parse, print, visit } from 'graphql';

export function documentHash(document: string): string {
  return createHash('sha256').update(document, 'utf8').digest('hex');
}

/** One manifest entry per operation of source, in source order; throws on unnamed or duplicate operations. */
export function buildPersistedManifest(source: string): Record<string, string> {
  const document = parse(source, { noLocation: true });
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const manifest: Record<string, string> = {};
  const names = new Set<string>();
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    const name = definition.name?.value;
    if (!name) throw new Error('Every persisted operation needs a name.');
    if (names.has(name)) throw new Error(`Operation ${name} is defined twice.`);
    names.add(name);
    const used = fragmentsUsedBy(definition, fragments);
    const text = print({ kind: Kind.DOCUMENT, definitions: [definition, ...used] } satisfies DocumentNode);
    manifest[documentHash(text)] = text;
  }
  return manifest;
}

function fragmentsUsedBy(root: DefinitionNode, fragments: Map<string, FragmentDefinitionNode>): FragmentDefinitionNode[] {
  const used = new Set<string>();
  const pending: DefinitionNode[] = [root];
  while (pending.length > 0) {
    visit(pending.pop()!, {
      FragmentSpread(node) {
        const name = node.name.value;
        if (used.has(name)) return;
        const fragment = fragments.get(name);
        if (!fragment) throw new Error(`Unknown fragment ${name}.`);
        used.add(name);
        pending.push(fragment);
      },
    });
  }
  // Source order, so the printed document does not depend on the order of discovery.
  return [...fragments.values()].filter((fragment) => used.has(fragment.name.value));
}
