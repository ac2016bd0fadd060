/**
 * Calling a tenant definition's actions (`POST /api/actions/:name`). The
 * types come from the definition's type only (no import of server code):
 *
 *   import type company from "../examples/company/definition";
 *   const stats = await client.db<typeof company>("Acme Co").action("getStats");
 *
 * Results arrive as JSON: dates come back as strings, undefined as null.
 */
import type { TenantbaseClient } from "./client.js";

/** Any tenant definition (or none given): names are strings, inputs and results untyped. */
export interface AnyTenantDefinition {
  actions: Record<string, any>;
}

/** The input type of a Standard Schema (zod 4 schemas are ones). */
type SchemaInput<S> = S extends { "~standard": { types?: infer T } }
  ? NonNullable<T> extends { input: infer I }
    ? I
    : unknown
  : unknown;

type ActionsOf<D> = D extends { actions: infer A } ? A : Record<string, any>;

export type ActionName<D> = keyof ActionsOf<D> & string;

/** What `action(name, input)` takes as input. */
export type ActionInputOf<D, N extends ActionName<D>> = ActionsOf<D>[N] extends {
  input: infer S;
}
  ? SchemaInput<S>
  : ActionsOf<D>[N] extends { run(c: any, input: infer I): any }
    ? 0 extends 1 & I
      ? any
      : undefined | Record<string, never>
    : any;

/** What `action(name, input)` resolves to. */
export type ActionResultOf<D, N extends ActionName<D>> = ActionsOf<D>[N] extends {
  run(...args: any[]): infer R;
}
  ? 0 extends 1 & R
    ? any
    : Awaited<R>
  : any;

export interface ActionOptions {
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

/** The arguments of `action(name, ...)`: the input is optional when the action accepts none. */
export type ActionArgs<D, N extends ActionName<D>> =
  undefined extends ActionInputOf<D, N>
    ? [input?: ActionInputOf<D, N>, options?: ActionOptions]
    : [input: ActionInputOf<D, N>, options?: ActionOptions];

export function callAction<R>(
  client: TenantbaseClient,
  tenant: string | undefined,
  name: string,
  input: unknown,
  options: ActionOptions = {},
): Promise<R> {
  return client.send<R>(`/api/actions/${encodeURIComponent(name)}`, {
    method: "POST",
    ...(input !== undefined ? { body: input } : {}),
    ...(tenant !== undefined ? { tenant } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.headers ? { headers: options.headers } : {}),
  });
}
