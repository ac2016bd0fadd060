/** zod issues as PocketBase validation errors, keyed by dotted path ("fields.0.max"). */
import type { z } from "zod";
import { type FieldErrors, fieldError } from "./errors.js";

export function zodErrors(error: z.ZodError): FieldErrors {
  const errors: FieldErrors = Object.create(null);
  for (const issue of error.issues) {
    const unknownKeys = issue.code === "unrecognized_keys" ? issue.keys : [];
    const paths =
      unknownKeys.length > 0 ? unknownKeys.map((key) => [...issue.path, key]) : [issue.path];
    for (const path of paths) {
      const key = path.length > 0 ? path.map(String).join(".") : "body";
      errors[key] ??= fieldError(
        unknownKeys.length > 0 ? "validation_unknown_field" : `validation_${issue.code}`,
        unknownKeys.length > 0 ? "Unknown field." : issue.message,
      );
    }
  }
  return errors;
}
