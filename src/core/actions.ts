/**
 * Running a tenant definition's actions. A call is checked (the action
 * exists, the caller may call it, the input passes its schema) before it
 * takes the tenant's queue; then `run(c, input)` runs in one transaction on
 * the tenant, alone. Events it broadcasts are checked against their schemas
 * and published after commit, in commit order (the handle's transaction
 * does that); if `run` throws, the transaction rolls back and they are dropped.
 */
import {
  type ActionAuth,
  type ActionContext,
  type ActionInfo,
  actionInfo,
  type CompiledAction,
  compileActions,
  compileEvents,
  inputProblems,
  isNoInput,
  type Schema,
  SUPERUSER_AUTH,
} from "../actions/index.js";
import {
  ActionAuthRequired,
  ActionEventInvalid,
  ActionForbidden,
  ActionInputInvalid,
  ActionNotFound,
} from "./errors.js";
import type { TenantHandle } from "./handle.js";

type Caller = (input?: unknown, options?: { auth?: ActionAuth | null }) => Promise<unknown>;

export class ActionRunner {
  readonly #actions: Map<string, CompiledAction>;
  readonly #events: Map<string, Schema>;

  constructor(actions: unknown, events: unknown) {
    this.#actions = compileActions(actions);
    this.#events = compileEvents(events);
  }

  list(): ActionInfo[] {
    return [...this.#actions.values()].map(actionInfo);
  }

  /** The action, if the caller may call it (throws ActionNotFound, ActionAuthRequired, ActionForbidden). */
  authorize(name: string, auth: ActionAuth | null): CompiledAction {
    const action = typeof name === "string" ? this.#actions.get(name) : undefined;
    if (!action) throw new ActionNotFound(String(name));
    if (action.public) return action;
    if (auth === null) throw new ActionAuthRequired(name);
    if (auth.kind === "superuser") return action;
    if (action.roles && (auth.role === null || !action.roles.includes(auth.role))) {
      throw new ActionForbidden(name, auth.role, action.roles);
    }
    return action;
  }

  async run(
    handle: TenantHandle,
    name: string,
    input: unknown,
    auth: ActionAuth | null = SUPERUSER_AUTH,
  ): Promise<unknown> {
    const action = this.authorize(name, auth);
    let value: unknown;
    if (action.input) {
      const parsed = await action.input.safeParseAsync(input);
      if (!parsed.success) throw new ActionInputInvalid(name, inputProblems(parsed.error));
      value = parsed.data;
    } else if (!isNoInput(input)) {
      throw new ActionInputInvalid(name, {
        input: { code: "validation_no_input", message: "This action takes no input." },
      });
    }
    return handle.transaction(async (db) => {
      let running = true;
      const c: ActionContext = {
        key: handle.key,
        db,
        auth,
        broadcast: (event, payload) => {
          if (!running) {
            throw new ActionEventInvalid(name, event, "the action has already finished.");
          }
          const schema = typeof event === "string" ? this.#events.get(event) : undefined;
          if (!schema) {
            throw new ActionEventInvalid(name, String(event), "no such event is defined.");
          }
          const checked = schema.safeParse(payload);
          if (!checked.success) {
            const problems = Object.entries(inputProblems(checked.error))
              .map(
                ([path, problem]) => `${path === "input" ? "payload" : path}: ${problem.message}`,
              )
              .join("; ");
            throw new ActionEventInvalid(name, event, `invalid payload (${problems}).`);
          }
          // Inside the transaction: queued, published after commit, dropped on rollback.
          handle.broadcast(event, checked.data);
        },
      };
      try {
        return await action.run(c, value);
      } finally {
        running = false;
      }
    });
  }

  /** `handle.actions`: a function per action, bound to the handle. */
  callers(handle: TenantHandle): Record<string, Caller> {
    const callers: Record<string, Caller> = Object.create(null);
    for (const name of this.#actions.keys()) {
      callers[name] = (input, options) =>
        this.run(handle, name, input, options?.auth === undefined ? SUPERUSER_AUTH : options.auth);
    }
    return Object.freeze(callers);
  }
}
