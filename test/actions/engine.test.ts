import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  ActionAuthRequired,
  type ActionContext,
  ActionEventInvalid,
  ActionForbidden,
  ActionInputInvalid,
  ActionNotFound,
  ActionRejected,
  createTenantbase,
  defineTenant,
  sqlite,
  type TenantEvent,
  TenantNotFound,
  type UserAuth,
} from "../../src/index.js";
import { type NotesDB, notesMigration } from "../helpers/hub.js";
import { tempDir } from "../helpers/temp.js";

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

/** How many actions run at once, per tenant and overall. */
const running = { byTenant: new Map<string, number>(), maxByTenant: 0, now: 0, max: 0 };
let kept: ActionContext | undefined;
/** Events a test's listener has received, read by the `broadcastAndWait` action. */
const delivered: string[] = [];

const notes = defineTenant<NotesDB>()({
  migrations: [notesMigration],
  events: {
    noteAdded: z.object({ id: z.number().int(), body: z.string() }),
    counted: z.number().int(),
  },
  actions: {
    addNote: {
      input: z.object({ body: z.string().trim().min(1).max(20) }),
      roles: ["owner", "editor"],
      async run(c, input) {
        const { id } = await c.db
          .insertInto("notes")
          .values({ body: input.body })
          .returning("id")
          .executeTakeFirstOrThrow();
        c.broadcast("noteAdded", { id: Number(id), body: input.body });
        return { id: Number(id), body: input.body };
      },
    },
    /** Reads the count, waits, writes count + 1: interleaving would repeat counts. */
    increment: {
      async run(c) {
        const inTenant = (running.byTenant.get(c.key) ?? 0) + 1;
        running.byTenant.set(c.key, inTenant);
        running.maxByTenant = Math.max(running.maxByTenant, inTenant);
        running.max = Math.max(running.max, ++running.now);
        try {
          const { n } = await c.db
            .selectFrom("notes")
            .select((eb) => eb.fn.countAll<number>().as("n"))
            .executeTakeFirstOrThrow();
          await tick(2);
          await c.db
            .insertInto("notes")
            .values({ body: String(n + 1) })
            .execute();
          c.broadcast("counted", n + 1);
          return n + 1;
        } finally {
          running.now--;
          running.byTenant.set(c.key, running.byTenant.get(c.key)! - 1);
        }
      },
    },
    failAfterBroadcast: {
      input: z.object({ body: z.string() }),
      async run(c, input) {
        await c.db.insertInto("notes").values({ body: input.body }).execute();
        c.broadcast("noteAdded", { id: 1, body: input.body });
        throw new Error(`boom: ${input.body}`);
      },
    },
    badPayload: {
      async run(c) {
        await c.db.insertInto("notes").values({ body: "bad payload" }).execute();
        c.broadcast("noteAdded", { id: "one" } as never);
      },
    },
    undeclaredEvent: {
      run(c) {
        c.broadcast("nope" as never, 1 as never);
      },
    },
    /** Broadcasts, waits, and reports what listeners had received by then. */
    broadcastAndWait: {
      async run(c) {
        await c.db.insertInto("notes").values({ body: "waited" }).execute();
        c.broadcast("counted", 1);
        await tick(10);
        return [...delivered];
      },
    },
    keep: {
      run(c) {
        kept = c;
        return "kept";
      },
    },
    whoami: {
      run(c) {
        return { key: c.key, auth: c.auth };
      },
    },
    open: {
      public: true,
      run(c) {
        return { anonymous: c.auth === null };
      },
    },
    reject: {
      run(c) {
        throw new ActionRejected(`${c.key} is full`, { status: 409 });
      },
    },
    count: {
      async run(c) {
        const rows = await c.db.selectFrom("notes").select("body").orderBy("id").execute();
        return rows.map((row) => row.body);
      },
    },
  },
});

function companyHub() {
  const hub = createTenantbase({ ...notes, driver: sqlite({ dir: join(tempDir(), "data") }) });
  return hub;
}

const user = (role: string | null): UserAuth => ({
  kind: "user",
  id: "u1",
  role,
  collection: "users",
  data: { id: "u1", role },
});

describe("actions", () => {
  it("run one at a time per tenant, in parallel across tenants", async () => {
    const hub = companyHub();
    await hub.tenants.create("alpha");
    await hub.tenants.create("beta");
    const [alpha, beta] = [await hub.tenant("alpha"), await hub.tenant("beta")];
    running.maxByTenant = 0;
    running.max = 0;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? alpha : beta).actions.increment()),
    );
    expect(running.maxByTenant).toBe(1);
    expect(running.max).toBe(2);
    // Each tenant saw 1..10 exactly once: no read-then-write interleaved.
    expect(results.filter((_, i) => i % 2).sort((a, b) => a - b)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
    ]);
    expect(await alpha.actions.count()).toEqual([
      "1",
      "2",
      "3",
      "4",
      "5",
      "6",
      "7",
      "8",
      "9",
      "10",
    ]);
    await hub.close();
  });

  it("publish events after commit, in commit order, to the tenant's subscribers only", async () => {
    const hub = companyHub();
    await hub.tenants.create("alpha");
    await hub.tenants.create("beta");
    const alphaEvents: TenantEvent[] = [];
    const betaEvents: TenantEvent[] = [];
    hub.subscribe("alpha", (event) => alphaEvents.push(event));
    hub.subscribe("beta", (event) => betaEvents.push(event));
    const alpha = await hub.tenant("alpha");
    const counts = await Promise.all(Array.from({ length: 15 }, () => alpha.actions.increment()));
    expect(alphaEvents.map((e) => [e.tenant, e.name, e.payload])).toEqual(
      counts.sort((a, b) => a - b).map((n) => ["alpha", "counted", n]),
    );
    expect(betaEvents).toEqual([]);

    // Nothing reaches listeners while the action still runs.
    delivered.length = 0;
    const stopDelivered = hub.subscribe("alpha", (event) => delivered.push(event.name));
    expect(await alpha.actions.broadcastAndWait()).toEqual([]);
    expect(delivered).toEqual(["counted"]);
    stopDelivered();

    // Not before the commit: a listener sees the row already written.
    const seen: string[][] = [];
    const stop = hub.subscribe("beta", (event) => {
      if (event.name === "noteAdded") {
        void hub.runAction("beta", "count").then((rows) => seen.push(rows));
      }
    });
    const added = await hub.runAction("beta", "addNote", { body: "  hello  " });
    expect(added).toEqual({ id: 1, body: "hello" });
    await tick(20);
    expect(seen).toEqual([["hello"]]);
    expect(betaEvents.map((e) => [e.name, e.payload])).toEqual([
      ["noteAdded", { id: 1, body: "hello" }],
    ]);
    stop();
    await hub.close();
  });

  it("roll back and broadcast nothing when run throws", async () => {
    const hub = companyHub();
    await hub.tenants.create("alpha");
    const events: TenantEvent[] = [];
    hub.subscribe("alpha", (event) => events.push(event));
    const alpha = await hub.tenant("alpha");
    await expect(alpha.actions.failAfterBroadcast({ body: "doomed" })).rejects.toThrow(
      "boom: doomed",
    );
    const rejected = await alpha.actions.reject().catch((error) => error);
    expect(rejected).toBeInstanceOf(ActionRejected);
    expect(rejected).toMatchObject({ code: "ACTION_REJECTED", status: 409 });
    // A payload failing its event's schema throws in run: rolled back too.
    const bad = await alpha.actions.badPayload().catch((error) => error);
    expect(bad).toBeInstanceOf(ActionEventInvalid);
    expect(bad.message).toMatch(/noteAdded.*id/);
    await expect(alpha.actions.undeclaredEvent()).rejects.toBeInstanceOf(ActionEventInvalid);
    expect(await alpha.actions.count()).toEqual([]);
    expect(events).toEqual([]);
    // The queue moved on: the next action runs and publishes.
    await alpha.actions.increment();
    expect(events.map((e) => e.name)).toEqual(["counted"]);
    // c.broadcast after the action finished is refused, not silently lost.
    await alpha.actions.keep();
    expect(() => kept!.broadcast("counted", 1)).toThrow(ActionEventInvalid);
    expect(events).toHaveLength(1);
    await hub.close();
  });

  it("check input against the schema before running", async () => {
    const hub = companyHub();
    await hub.tenants.create("alpha");
    const alpha = await hub.tenant("alpha");
    const invalid = await alpha.actions
      .addNote({ body: "x".repeat(21) })
      .catch((error: unknown) => error);
    expect(invalid).toBeInstanceOf(ActionInputInvalid);
    expect(invalid).toMatchObject({
      code: "ACTION_INPUT_INVALID",
      details: { action: "addNote", fields: { body: { code: "validation_too_big" } } },
    });
    await expect(alpha.actions.addNote({ body: "   " })).rejects.toMatchObject({
      details: { fields: { body: { code: "validation_too_small" } } },
    });
    await expect(hub.runAction("alpha", "addNote", "not an object" as never)).rejects.toMatchObject(
      { details: { fields: { input: { code: "validation_invalid_type" } } } },
    );
    await expect(hub.runAction("alpha", "addNote")).rejects.toBeInstanceOf(ActionInputInvalid);
    // An action without a schema takes nothing, null or {}.
    expect(await hub.runAction("alpha", "count", {})).toEqual([]);
    expect(await hub.runAction("alpha", "count", null as never)).toEqual([]);
    await expect(hub.runAction("alpha", "count", { x: 1 } as never)).rejects.toMatchObject({
      details: { fields: { input: { code: "validation_no_input" } } },
    });
    expect(await alpha.actions.count()).toEqual([]);
    await hub.close();
  });

  it("refuse unknown actions, whatever the name", async () => {
    const hub = companyHub();
    await hub.tenants.create("alpha");
    for (const name of ["nope", "__proto__", "constructor", "toString", "", "addNote "]) {
      await expect(hub.runAction("alpha", name as never)).rejects.toBeInstanceOf(ActionNotFound);
    }
    // Checked before the tenant is woken.
    await expect(hub.runAction("ghost", "nope" as never)).rejects.toBeInstanceOf(ActionNotFound);
    await expect(hub.runAction("ghost", "count")).rejects.toBeInstanceOf(TenantNotFound);
    expect(hub.listActions().find((a) => a.name === "addNote")).toEqual({
      name: "addNote",
      roles: ["owner", "editor"],
      public: false,
      hasInput: true,
    });
    await hub.close();
  });

  it("let only allowed callers in", async () => {
    const hub = companyHub();
    await hub.tenants.create("alpha");
    const alpha = await hub.tenant("alpha");
    // No auth given: trusted code, a superuser.
    expect(await alpha.actions.whoami()).toEqual({ key: "alpha", auth: { kind: "superuser" } });
    expect(await alpha.actions.addNote({ body: "by code" })).toMatchObject({ body: "by code" });
    expect(await alpha.actions.addNote({ body: "editor" }, { auth: user("editor") })).toMatchObject(
      { body: "editor" },
    );
    const forbidden = await alpha.actions
      .addNote({ body: "viewer" }, { auth: user("viewer") })
      .catch((error) => error);
    expect(forbidden).toBeInstanceOf(ActionForbidden);
    expect(forbidden).toMatchObject({
      code: "ACTION_FORBIDDEN",
      details: { role: "viewer", roles: ["owner", "editor"] },
    });
    await expect(
      alpha.actions.addNote({ body: "no role" }, { auth: user(null) }),
    ).rejects.toBeInstanceOf(ActionForbidden);
    await expect(alpha.actions.addNote({ body: "anon" }, { auth: null })).rejects.toBeInstanceOf(
      ActionAuthRequired,
    );
    // Roles are checked before the input: no hint about the schema to outsiders.
    await expect(alpha.actions.addNote({ body: "" }, { auth: null })).rejects.toBeInstanceOf(
      ActionAuthRequired,
    );
    // Without roles: any authenticated caller; anonymous only for public actions.
    expect(await alpha.actions.whoami(undefined, { auth: user("viewer") })).toEqual({
      key: "alpha",
      auth: user("viewer"),
    });
    await expect(alpha.actions.whoami(undefined, { auth: null })).rejects.toBeInstanceOf(
      ActionAuthRequired,
    );
    expect(await alpha.actions.open(undefined, { auth: null })).toEqual({ anonymous: true });
    expect(await alpha.actions.count()).toEqual(["by code", "editor"]);
    await hub.close();
  });

  it("refuse malformed definitions when the hub is created", () => {
    const driver = () => sqlite({ dir: join(tempDir(), "data") });
    const run = () => null;
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ actions: { "bad name": { run } } }, /action name/],
      [{ actions: { x: {} } }, /run\(c, input\)/],
      [{ actions: { x: { run, input: { parse() {} } } } }, /zod schema/],
      [{ actions: { x: { run, roles: [] } } }, /roles/],
      [{ actions: { x: { run, roles: ["a", ""] } } }, /roles/],
      [{ actions: { x: { run, public: true, roles: ["a"] } } }, /public/],
      [{ actions: [] }, /actions must be an object/],
      [{ events: { record: z.string() } }, /reserved/],
      [{ events: { "a/b": z.string() } }, /event name/],
      [{ events: { a: "string" } }, /zod schema/],
    ];
    for (const [options, message] of bad) {
      expect(() => createTenantbase({ ...(options as object), driver: driver() })).toThrow(message);
    }
  });

  it("are typed from the definition", async () => {
    const hub = companyHub();
    await hub.tenants.create("alpha");
    const alpha = await hub.tenant("alpha");
    const note = await alpha.actions.addNote({ body: "typed" });
    const id: number = note.id;
    // @ts-expect-error the result is typed: id is a number
    const wrong: string = note.id;
    expect(typeof wrong).toBe("number");
    expect(id).toBe(1);
    // @ts-expect-error body is required
    await expect(alpha.actions.addNote({})).rejects.toBeInstanceOf(ActionInputInvalid);
    // @ts-expect-error count takes no input
    await expect(alpha.actions.count({ x: 1 })).rejects.toBeInstanceOf(ActionInputInvalid);
    const bodies: string[] = await hub.runAction("alpha", "count");
    expect(bodies).toEqual(["typed"]);
    // @ts-expect-error unknown action
    await expect(hub.runAction("alpha", "missing")).rejects.toBeInstanceOf(ActionNotFound);
    await hub.close();
  });
});
