// Yoga plugin for DB_TRACE=1: runs each execution inside the trace and returns its commands as extensions.dbOps.
import type { Plugin } from 'graphql-yoga';
import type { Context } from '../context.js';
import { readEnv } from '../env.js';
import { traceDbOps } from './trace.js';

export function useDbTrace(): Plugin<Context> {
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      // Read per request (not at import) so tests and the dev server can set DB_TRACE before the first request.
      const env = readEnv();
      if (env.DB_TRACE !== '1' || env.NODE_ENV === 'production') return;
      const ops = (args.contextValue as Context).dbOps;
      setExecuteFn((executeArgs) => traceDbOps(ops, () => executeFn(executeArgs)));
      return {
        onExecuteDone({ result, setResult }) {
          if (Symbol.asyncIterator in result) return;
          setResult({ ...result, extensions: { ...result.extensions, dbOps: ops } });
        },
      };
    },
  };
}
