/** Refuses request bodies over the limit with a 413 in PocketBase's error shape. */
import type { MiddlewareHandler } from "hono";
import { bodyLimit as honoBodyLimit } from "hono/body-limit";
import type { AppEnv } from "../../env.js";

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

export function bodyLimit(maxSize: number = DEFAULT_BODY_LIMIT): MiddlewareHandler<AppEnv> {
  return honoBodyLimit({
    maxSize,
    onError: (c) =>
      c.json(
        {
          status: 413,
          message: `The request body is larger than the limit of ${maxSize} bytes.`,
          data: {},
        },
        413,
      ),
  });
}
