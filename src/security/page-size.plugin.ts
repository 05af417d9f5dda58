// `first`/`last` outside 0..100 are refused before execution starts: written inline, by a validation rule (ahead
// of the cost limit, so the clearer message comes first); passed as variables, before any resolver runs. Resolvers
// check again (src/pagination.ts).
import {
  type ArgumentNode,
  type ASTVisitor,
  type DocumentNode,
  type GraphQLInputType,
  GraphQLError,
  type GraphQLSchema,
  TypeInfo,
  type ValidationContext,
  valueFromAST,
  visit,
  visitWithTypeInfo,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { MAX_PAGE_SIZE } from '../pagination.js';

const PAGE_ARGUMENTS = new Set(['first', 'last']);

function pageSizeError(name: string): GraphQLError {
  return new GraphQLError(`"${name}" must be between 0 and ${MAX_PAGE_SIZE}.`, { extensions: { code: 'BAD_USER_INPUT' } });
}

interface PageArgument {
  name: string;
  type: GraphQLInputType;
  node: ArgumentNode;
}

// Yoga's parser cache hands back the same DocumentNode for the same query text, so the walk over the document
// happens once per distinct document and per schema, not once per request.
const pageArgumentsOf = new WeakMap<GraphQLSchema, WeakMap<DocumentNode, PageArgument[]>>();

/** Every `first`/`last` argument in the document, with its input type. */
function findPageArguments(schema: GraphQLSchema, document: DocumentNode): PageArgument[] {
  let bySchema = pageArgumentsOf.get(schema);
  if (!bySchema) pageArgumentsOf.set(schema, (bySchema = new WeakMap()));
  let found = bySchema.get(document);
  if (found) return found;
  found = [];
  const typeInfo = new TypeInfo(schema);
  const into = found;
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Argument(node) {
        const argument = typeInfo.getArgument();
        if (argument && PAGE_ARGUMENTS.has(argument.name)) into.push({ name: argument.name, type: argument.type, node });
      },
    }),
  );
  bySchema.set(document, found);
  return found;
}

/** The first `first`/`last` argument whose value is outside 0..100, given the variables (null: inline values only). */
export function findOversizedPage(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown> | null): GraphQLError | null {
  for (const { name, type, node } of findPageArguments(schema, document)) {
    if (variables === null && node.value.kind === 'Variable') continue;
    // Variables are not coerced yet: a value of the wrong type is left to GraphQL's own coercion error.
    const value: unknown = valueFromAST(node.value, type, variables ?? undefined);
    if (typeof value === 'number' && (value < 0 || value > MAX_PAGE_SIZE)) return pageSizeError(name);
  }
  return null;
}

/** Validation rule for inline page sizes; it reports on entering the document, before the other rules' operation checks. */
function InlinePageSizeRule(context: ValidationContext): ASTVisitor {
  return {
    Document(node) {
      const problem = findOversizedPage(context.getSchema(), node, null);
      if (problem) context.reportError(problem);
    },
  };
}

function checkVariables({ args, setResultAndStopExecution }: {
  args: { schema: GraphQLSchema; document: DocumentNode; variableValues?: unknown };
  setResultAndStopExecution: (result: { errors: GraphQLError[] }) => void;
}): void {
  const problem = findOversizedPage(args.schema, args.document, (args.variableValues as Record<string, unknown> | undefined) ?? {});
  if (problem) setResultAndStopExecution({ errors: [problem] });
}

export function usePageSizeLimit(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(InlinePageSizeRule);
    },
    onExecute: checkVariables,
    // A subscription never executes: its selection could hold a connection field all the same.
    onSubscribe: checkVariables,
  };
}
