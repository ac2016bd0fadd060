/** Reading JSON request bodies: a clear 400 for anything that is not one JSON object. */
import type { Context } from "hono";
import type { z } from "zod";
import { zodErrors } from "../collections/zod-errors.js";
import { badRequest, nestFieldErrors } from "./errors.js";

export async function readJsonObject(c: Context): Promise<Record<string, unknown>> {
  const type = c.req.header("content-type") ?? "";
  if (/^multipart\/form-data|^application\/x-www-form-urlencoded/i.test(type)) {
    throw badRequest("Only JSON request bodies are supported (file uploads are not).");
  }
  const text = await c.req.text();
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw badRequest(
      `Failed to read the submitted data: invalid JSON (${(error as Error).message}).`,
    );
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw badRequest("The request body must be a JSON object.");
  }
  return value as Record<string, unknown>;
}

/** Parses the body with a zod schema; problems become PocketBase validation data. */
export async function readBody<T>(c: Context, schema: z.ZodType<T>, message: string): Promise<T> {
  const parsed = schema.safeParse(await readJsonObject(c));
  if (!parsed.success) throw badRequest(message, nestFieldErrors(zodErrors(parsed.error)));
  return parsed.data;
}
