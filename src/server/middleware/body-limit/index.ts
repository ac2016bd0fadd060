/**
 * Refuses request bodies over the limit with a 413 in PocketBase's error
 * shape. An oversized body is read to its end (and dropped) before the
 * answer, up to a cap, so the client, still sending, gets the 413 rather
 * than a connection reset.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../env.js";

export const DEFAULT_BODY_LIMIT = 1024 * 1024;
/** Past this many bytes an oversized body is no longer drained: the connection just closes. */
const DRAIN_CAP = 64 * 1024 * 1024;

export function bodyLimit(maxSize: number = DEFAULT_BODY_LIMIT): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const body = c.req.raw.body;
    if (!body) return next();
    const declared = c.req.header("content-length");
    // Node enforces Content-Length framing, so a declared size within the limit is the size.
    if (
      declared !== undefined &&
      !c.req.header("transfer-encoding") &&
      Number(declared) <= maxSize
    ) {
      return next();
    }
    const reader = body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size <= maxSize) chunks.push(value);
      else if (size > DRAIN_CAP) {
        await reader.cancel().catch(() => {});
        break;
      }
    }
    if (size > maxSize) {
      return c.json(
        {
          status: 413,
          message: `The request body is larger than the limit of ${maxSize} bytes.`,
          data: {},
        },
        413,
      );
    }
    const buffer = new Uint8Array(size);
    let offset = 0;
    for (const chunk of chunks) {
      buffer.set(chunk, offset);
      offset += chunk.length;
    }
    c.req.raw = new Request(c.req.raw, { body: buffer });
    return next();
  };
}
