/**
 * Tenant definitions, RivetKit's actor model keyed by tenant: the tenant's
 * migrations, the events it may broadcast (zod schemas) and its actions
 * (`input` schema, allowed `roles`, `run(c, input)`). `defineTenant` returns
 * the definition as given, typed: `run`'s input comes from its schema,
 * `c.broadcast` knows the events, and callers (handles, the SDK) get each
 * action's input and result types. The hub runs actions (src/core/actions.ts).
 */
import type { Transaction } from "kysely";
import type { z } from "zod";
import type { Migration } from "../migrations/migration.js";

/** Event name → schema of its payload. */
export type EventSchemas = Record<string, z.ZodType>;

/** The caller of an action, as verified (never as claimed). */
export type ActionAuth = SuperuserAuth | UserAuth;

export interface SuperuserAuth {
  readonly kind: "superuser";
}

/** A user of the tenant: a record of one of its auth collections, or an identity provider's user. */
export interface UserAuth {
  readonly kind: "user";
  readonly id: string;
  /** The record's `role` field, or the provider's role claim, when it is a string; else null. */
  readonly role: string | null;
  /** The auth collection's name; null for an identity provider's user. */
  readonly collection: string | null;
  /** The user's record (as a superuser sees it, never password or tokenKey), or the token's claims. */
  readonly data: Readonly<Record<string, unknown>>;
}

/** What trusted code acts as when it passes no `auth`. */
export const SUPERUSER_AUTH: SuperuserAuth = Object.freeze({ kind: "superuser" });

/** `c` in `run(c, input)`. */
export interface ActionContext<DB = any, E extends EventSchemas = EventSchemas> {
  /** The tenant key. */
  readonly key: string;
  /** The action's transaction on this tenant's database (the action runs alone on the tenant). */
  readonly db: Transaction<DB>;
  /** Who called: a superuser, a user of this tenant, or null (anonymous, `public` actions only). */
  readonly auth: ActionAuth | null;
  /**
   * Publishes an event to this tenant's subscribers once the action commits
   * (in commit order); dropped if the action throws. The payload is checked
   * against the event's schema here, and a bad one throws.
   */
  broadcast<N extends keyof E & string>(event: N, payload: z.input<E[N]>): void;
}

/** What `run` receives: the schema's output, or undefined without a schema. */
export type ActionRunInput<S> = [S] extends [z.ZodType] ? z.output<S> : undefined;

export interface ActionDefinition<S = unknown, DB = any, E extends EventSchemas = EventSchemas> {
  /** A zod schema the input must pass; `run` gets its output. Without it the action takes no input. */
  input?: S;
  /**
   * Roles allowed to call (besides superusers, who always may). Without it,
   * any authenticated caller of the tenant may.
   */
  roles?: readonly string[];
  /** Anonymous callers may call it too (c.auth is then null). Not with `roles`. */
  public?: boolean;
  /** Runs in one transaction on the tenant's write queue; its return value is the result. */
  run(c: ActionContext<DB, E>, input: ActionRunInput<S>): unknown;
}

/** Any action, as the hub sees it. */
export interface AnyActionDefinition {
  input?: unknown;
  roles?: readonly string[];
  public?: boolean;
  run(c: ActionContext<any, any>, input: any): unknown;
}

export type ActionDefinitions = Record<string, AnyActionDefinition>;

/** The input a caller passes: the schema's input type (optional when it accepts undefined). */
export type ActionCallInput<A> = A extends { input: infer S extends z.ZodType }
  ? z.input<S>
  : A extends { run(c: any, input: infer I): any }
    ? 0 extends 1 & I
      ? any // an untyped action (AnyActionDefinition)
      : undefined | Record<string, never>
    : unknown;

/** The action's result (what `run` resolves to). */
export type ActionResult<A> = A extends { run(...args: any[]): infer R } ? Awaited<R> : unknown;

export interface ActionCallOptions {
  /**
   * Who is calling. Default: a superuser (trusted code). Pass the verified
   * caller when acting for a user, or null for an anonymous one.
   */
  auth?: ActionAuth | null;
}

/** `handle.actions`: one function per action. */
export type ActionCallers<A extends ActionDefinitions = ActionDefinitions> = {
  readonly [N in keyof A]: undefined extends ActionCallInput<A[N]>
    ? (input?: ActionCallInput<A[N]>, options?: ActionCallOptions) => Promise<ActionResult<A[N]>>
    : (input: ActionCallInput<A[N]>, options?: ActionCallOptions) => Promise<ActionResult<A[N]>>;
};

export interface MigrationLists {
  tenant?: Migration[];
  public?: Migration[];
}

/**
 * Seed data for `tenantbase serve --demo`: tenants created (if missing) by
 * calling actions. Each input is checked by its action when the demo runs.
 */
export interface DemoData {
  /** Tenant key → the actions to call, in order, as a superuser. */
  tenants: Record<string, ReadonlyArray<DemoStep>>;
  /** The call `serve --demo` shows as a curl line (default: the first action, no input). */
  example?: DemoStep;
}

export interface DemoStep {
  action: string;
  input?: unknown;
}

/**
 * What `tenantbase serve --app` sets up for this app beyond the engine.
 * Collections are the Collections API's bodies.
 */
export interface ServerSettings {
  /** Collections the app needs: created at start when missing. */
  collections?: readonly unknown[];
  /** Self-service sign-up (`POST /api/signup`): a new tenant and its first user in `collection`, with `role`. */
  signup?: { collection: string; role?: string };
  /** An absolute path to a built web app, served at `/`. */
  public?: string;
}

/** A checked, typed tenant definition; spread it into `createTenantbase`. */
export interface TenantDefinition<
  DB = any,
  E extends EventSchemas = EventSchemas,
  A extends ActionDefinitions = ActionDefinitions,
> {
  /** Tenant migrations (a list), or both streams. */
  migrations?: Migration[] | MigrationLists;
  events?: E;
  actions: A;
  demo?: DemoData;
  server?: ServerSettings;
  /** Phantom: the tenant database's Kysely schema. */
  readonly __db?: DB;
}

/** What `defineTenant` is given. */
export interface TenantDefinitionInput<DB, E extends EventSchemas, T, A> {
  migrations?: Migration[] | MigrationLists;
  events?: E;
  actions: { [K in keyof T]: ActionDefinition<T[K], DB, E> } & A;
  demo?: DemoData;
  server?: ServerSettings;
}

type Define<DB> = <const E extends EventSchemas = {}, T = {}, A extends ActionDefinitions = {}>(
  definition: TenantDefinitionInput<DB, E, T, A>,
) => TenantDefinition<DB, E, A>;

/**
 * Types and returns a tenant definition. `defineTenant({...})` types `c.db`
 * loosely; `defineTenant<MyDB>()({...})` types it with the tenant's schema.
 * The hub checks the definition when it is created.
 */
export function defineTenant<
  const E extends EventSchemas = {},
  T = {},
  A extends ActionDefinitions = {},
>(definition: TenantDefinitionInput<any, E, T, A>): TenantDefinition<any, E, A>;
export function defineTenant<DB>(): Define<DB>;
export function defineTenant(definition?: unknown): unknown {
  if (definition === undefined) return (given: unknown) => given;
  return definition;
}
