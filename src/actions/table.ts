/**
 * Checking a definition's actions and events once, when the hub is created,
 * into lookup tables (Maps: a request naming `__proto__` or `constructor`
 * finds nothing), and turning zod issues into per-field errors.
 */
import type { z } from "zod";
import type { AnyActionDefinition } from "./define.js";

/** Names of actions and events: they appear in URLs and realtime topics. */
export const ACTION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** Event names the engine itself broadcasts (collections' record changes). */
export const RESERVED_EVENTS: ReadonlySet<string> = new Set(["record"]);

/** A schema as far as the runner needs it (zod's). */
export interface Schema {
  safeParseAsync(value: unknown): Promise<z.ZodSafeParseResult<unknown>>;
  safeParse(value: unknown): z.ZodSafeParseResult<unknown>;
}

export interface CompiledAction {
  readonly name: string;
  readonly input: Schema | undefined;
  readonly roles: readonly string[] | undefined;
  readonly public: boolean;
  readonly run: AnyActionDefinition["run"];
}

/** What the server and tools may know of an action. */
export interface ActionInfo {
  name: string;
  /** Roles allowed besides superusers; null = any authenticated caller of the tenant. */
  roles: readonly string[] | null;
  /** Anonymous callers allowed. */
  public: boolean;
  /** Whether it takes input (has an input schema). */
  hasInput: boolean;
}

function isSchema(value: unknown): value is Schema {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Schema).safeParse === "function" &&
    typeof (value as Schema).safeParseAsync === "function"
  );
}

function plainEntries(value: unknown, what: string): Array<[string, unknown]> {
  if (value === undefined) return [];
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`${what} must be an object`);
  }
  return Object.entries(value);
}

export function compileEvents(events: unknown): Map<string, Schema> {
  const table = new Map<string, Schema>();
  for (const [name, schema] of plainEntries(events, "events")) {
    if (!ACTION_NAME.test(name)) {
      throw new TypeError(
        `event name ${JSON.stringify(name)} must be an identifier (letters, digits, _; up to 64)`,
      );
    }
    if (RESERVED_EVENTS.has(name)) {
      throw new TypeError(`event name ${JSON.stringify(name)} is reserved for collection records`);
    }
    if (!isSchema(schema)) throw new TypeError(`event ${name}: its value must be a zod schema`);
    table.set(name, schema);
  }
  return table;
}

export function compileActions(actions: unknown): Map<string, CompiledAction> {
  const table = new Map<string, CompiledAction>();
  for (const [name, value] of plainEntries(actions, "actions")) {
    if (!ACTION_NAME.test(name)) {
      throw new TypeError(
        `action name ${JSON.stringify(name)} must be an identifier (letters, digits, _; up to 64)`,
      );
    }
    const action = value as AnyActionDefinition;
    if (typeof action !== "object" || action === null || typeof action.run !== "function") {
      throw new TypeError(`action ${name} must be an object with a run(c, input) function`);
    }
    if (action.input !== undefined && !isSchema(action.input)) {
      throw new TypeError(`action ${name}: input must be a zod schema`);
    }
    const roles = action.roles;
    if (roles !== undefined) {
      if (
        !Array.isArray(roles) ||
        roles.length === 0 ||
        roles.some((role) => typeof role !== "string" || role === "")
      ) {
        throw new TypeError(`action ${name}: roles must be a non-empty list of role names`);
      }
    }
    if (action.public !== undefined && typeof action.public !== "boolean") {
      throw new TypeError(`action ${name}: public must be true or false`);
    }
    if (action.public && roles !== undefined) {
      throw new TypeError(`action ${name}: a public action cannot also require roles`);
    }
    table.set(name, {
      name,
      input: action.input as Schema | undefined,
      roles: roles ? Object.freeze([...roles]) : undefined,
      public: action.public === true,
      run: action.run,
    });
  }
  return table;
}

export function actionInfo(action: CompiledAction): ActionInfo {
  return {
    name: action.name,
    roles: action.roles ?? null,
    public: action.public,
    hasInput: action.input !== undefined,
  };
}

/** One problem with one input value, as PocketBase reports it (`data.<field>.code/message`). */
export interface InputProblem {
  code: string;
  message: string;
}

/** zod issues keyed by dotted path ("members.0.name"); the input as a whole is "input". */
export function inputProblems(error: z.ZodError): Record<string, InputProblem> {
  const problems: Record<string, InputProblem> = Object.create(null);
  for (const issue of error.issues) {
    const unknownKeys = issue.code === "unrecognized_keys" ? issue.keys : [];
    const paths =
      unknownKeys.length > 0 ? unknownKeys.map((key) => [...issue.path, key]) : [issue.path];
    for (const path of paths) {
      const key = path.length > 0 ? path.map(String).join(".") : "input";
      problems[key] ??=
        unknownKeys.length > 0
          ? { code: "validation_unknown_field", message: "Unknown field." }
          : { code: `validation_${issue.code}`, message: issue.message };
    }
  }
  return problems;
}

/** An action without an input schema accepts nothing, null or {}. */
export function isNoInput(input: unknown): boolean {
  if (input === undefined || input === null) return true;
  if (typeof input !== "object" || Array.isArray(input)) return false;
  const proto = Object.getPrototypeOf(input);
  return (proto === Object.prototype || proto === null) && Reflect.ownKeys(input).length === 0;
}
