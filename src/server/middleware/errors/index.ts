/** Errors and unknown routes as PocketBase error bodies; unexpected ones are logged. */
import type { ErrorHandler, NotFoundHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Logger } from "pino";
import type { AppEnv } from "../../env.js";
import { toErrorBody } from "../../errors.js";

export function errorHandler(logger: Logger): ErrorHandler<AppEnv> {
  return (error, c) => {
    const { body, unexpected } = toErrorBody(error);
    if (unexpected)
      logger.error({ err: error, method: c.req.method, path: c.req.path }, "request failed");
    return c.json(body, body.status as ContentfulStatusCode);
  };
}

export const notFoundHandler: NotFoundHandler<AppEnv> = (c) =>
  c.json({ status: 404, message: "The requested resource wasn't found.", data: {} }, 404);
