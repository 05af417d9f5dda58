// Request bodies above MAX_BODY_BYTES are refused with 413 before parsing: by Content-Length when it is sent
// (the HTTP parser then delivers no more than that), and while the body streams in otherwise (chunked uploads),
// so a 5 MB body is never buffered whole.
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import { securitySettings } from './settings.js';

function tooLarge(limit: number) {
  return createGraphQLError(`The request body is larger than ${limit} bytes (MAX_BODY_BYTES).`, {
    extensions: { code: 'REQUEST_ENTITY_TOO_LARGE', http: { status: 413 } },
  });
}

export function useBodySizeLimit(): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      const limit = securitySettings().limits.maxBodyBytes;
      const declared = request.headers.get('content-length');
      if (declared !== null) {
        if (!/^[0-9]+$/.test(declared)) {
          throw createGraphQLError('Content-Length is invalid.', { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
        }
        if (Number(declared) > limit) throw tooLarge(limit);
        return;
      }
      if (!requestParser || !request.body) return;
      const parse = requestParser;
      setRequestParser((original) => {
        let bytes = 0;
        // The node adapter may hand over a native stream; pair it with the native TransformStream (as Yoga itself does).
        const Transform = original.body instanceof ReadableStream ? globalThis.TransformStream : fetchAPI.TransformStream;
        const counted = original.body!.pipeThrough(
          new Transform<Uint8Array, Uint8Array>({
            transform(chunk, controller) {
              bytes += chunk.byteLength;
              if (bytes > limit) controller.error(tooLarge(limit));
              else controller.enqueue(chunk);
            },
          }),
          // Refusing must not cancel the incoming stream: the Web handler adapter of Vercel's Node launcher
          // (@edge-runtime/node-utils) keeps enqueuing the request's chunks into it and would throw on a cancelled
          // stream, killing the instance. Unread chunks are dropped with the request.
          { preventCancel: true },
        );
        return parse(
          new fetchAPI.Request(original.url, {
            method: original.method,
            headers: original.headers,
            signal: original.signal,
            body: counted,
            // @ts-expect-error duplex is required by Node for streamed request bodies but missing from the DOM types
            duplex: 'half',
          }),
        );
      });
    },
  };
}
