/**
 * The company example's tenant definition: a tenant is a company (its key is
 * the company's name), with its own database of employees and projects.
 * Every action runs alone on its company, in a transaction; the add actions
 * broadcast employeeAdded/projectAdded to that company's subscribers only.
 *
 *   npm start   # tenantbase serve --app examples/company/definition.ts --data ./data --demo
 *
 * A company holds at most COMPANY_MAX_ROWS rows (employees and projects
 * together; default 10,000).
 */
import { fileURLToPath } from "node:url";
import { type Kysely, sql } from "kysely";
import { z } from "zod";
import {
  type ActionContext,
  ActionRejected,
  defineTenant,
  type Migration,
} from "../../src/index.js";

export const PROJECT_STATUSES = ["planning", "active", "done"] as const;
export type ProjectStatus = (typeof PROJECT_STATUSES)[number];

export interface Employee {
  id: number;
  name: string;
  role: string;
  created_at: string;
}

export interface Project {
  id: number;
  name: string;
  status: ProjectStatus;
  created_at: string;
}

/** When the company's data was first and last written (one row, id 1). */
export interface CompanyRow {
  id: number;
  created_at: string;
  updated_at: string;
}

/** The tenant database (Kysely schema). */
export interface CompanyDB {
  employees: Employee;
  projects: Project;
  company: CompanyRow;
}

export const DEFAULT_MAX_ROWS = 10_000;

export const migrations: Migration[] = [
  {
    name: "0001_employees",
    async up(db: Kysely<any>) {
      await db.schema
        .createTable("employees")
        .addColumn("id", "integer", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("role", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable("employees").execute();
    },
  },
  {
    name: "0002_projects",
    async up(db: Kysely<any>) {
      await db.schema
        .createTable("projects")
        .addColumn("id", "integer", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("created_at", "text", (c) => c.notNull())
        .addCheckConstraint("projects_status", sql`status in ('planning', 'active', 'done')`)
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable("projects").execute();
    },
  },
  {
    // Written by the first write, not here: new companies are copies of one template database.
    name: "0003_company",
    async up(db: Kysely<any>) {
      await db.schema
        .createTable("company")
        .addColumn("id", "integer", (c) => c.primaryKey())
        .addColumn("created_at", "text", (c) => c.notNull())
        .addColumn("updated_at", "text", (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable("company").execute();
    },
  },
];

const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .regex(/^[^\p{Cc}]*$/u, "Must not contain control characters.");

const employeeSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  role: z.string(),
  created_at: z.string(),
});

const projectSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  status: z.enum(PROJECT_STATUSES),
  created_at: z.string(),
});

const page = z.int().min(1).max(1_000_000).default(1);
const perPage = z.int().min(1).max(100).default(20);

/** COMPANY_MAX_ROWS as a whole number of 1 or more, or the default. */
export function maxRowsFromEnv(env: Record<string, string | undefined>): number {
  const raw = env.COMPANY_MAX_ROWS;
  if (raw === undefined || raw.trim() === "") return DEFAULT_MAX_ROWS;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new Error(`COMPANY_MAX_ROWS must be a whole number of 1 or more, not ${raw}`);
  }
  return value;
}

type Db = ActionContext<CompanyDB>["db"];

async function count(db: Db, table: "employees" | "projects"): Promise<number> {
  const row = await db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number | string>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

async function nextId(db: Db, table: "employees" | "projects"): Promise<number> {
  const row = await db
    .selectFrom(table)
    .select((eb) => eb.fn.max<number | string | null>("id").as("id"))
    .executeTakeFirst();
  return Number(row?.id ?? 0) + 1;
}

/** Bumps updated_at (and sets created_at on the first write), in the action's transaction. */
async function touch(db: Db, now: string): Promise<void> {
  await db
    .insertInto("company")
    .values({ id: 1, created_at: now, updated_at: now })
    .onConflict((oc) => oc.column("id").doUpdateSet({ updated_at: now }))
    .execute();
}

/** Refuses a new row past the company's cap (the action runs alone, so the count holds). */
async function ensureRoom(db: Db, key: string, maxRows: number): Promise<void> {
  const rows = (await count(db, "employees")) + (await count(db, "projects"));
  if (rows >= maxRows) {
    throw new ActionRejected(
      `Company ${JSON.stringify(key)} has reached its limit of ${maxRows} rows (employees and projects together); raise COMPANY_MAX_ROWS to allow more.`,
      {
        status: 409,
        fields: { limit: { code: "limit_reached", message: `At most ${maxRows} rows.` } },
      },
    );
  }
}

/** The company's people: an auth collection in every company's database. */
export const membersCollection = {
  name: "members",
  type: "auth",
  fields: [
    { name: "name", type: "text", max: 100 },
    { name: "role", type: "select", values: ["owner", "admin", "member"], maxSelect: 1 },
  ],
  listRule: "id = @request.auth.id",
  viewRule: "id = @request.auth.id",
  createRule: null,
  updateRule: "id = @request.auth.id",
  deleteRule: null,
};

/** The company definition with a row cap of `maxRows` per company. */
export function companyDefinition(options: { maxRows?: number } = {}) {
  const maxRows = options.maxRows ?? DEFAULT_MAX_ROWS;
  return defineTenant<CompanyDB>()({
    migrations,
    events: {
      employeeAdded: employeeSchema,
      projectAdded: projectSchema,
    },
    actions: {
      addEmployee: {
        input: z.strictObject({ name: text(100), role: text(50) }),
        roles: ["owner", "admin"],
        async run(c, input) {
          await ensureRoom(c.db, c.key, maxRows);
          const employee: Employee = {
            id: await nextId(c.db, "employees"),
            name: input.name,
            role: input.role,
            created_at: new Date().toISOString(),
          };
          await c.db.insertInto("employees").values(employee).execute();
          await touch(c.db, employee.created_at);
          c.broadcast("employeeAdded", employee);
          return employee;
        },
      },
      listEmployees: {
        input: z.strictObject({ page, perPage }).default({ page: 1, perPage: 20 }),
        async run(c, { page, perPage }) {
          const items = await c.db
            .selectFrom("employees")
            .selectAll()
            .orderBy("id")
            .limit(perPage)
            .offset((page - 1) * perPage)
            .execute();
          return { items, page, perPage, totalItems: await count(c.db, "employees") };
        },
      },
      addProject: {
        input: z.strictObject({
          name: text(100),
          status: z.enum(PROJECT_STATUSES).default("planning"),
        }),
        roles: ["owner", "admin"],
        async run(c, input) {
          await ensureRoom(c.db, c.key, maxRows);
          const project: Project = {
            id: await nextId(c.db, "projects"),
            name: input.name,
            status: input.status,
            created_at: new Date().toISOString(),
          };
          await c.db.insertInto("projects").values(project).execute();
          await touch(c.db, project.created_at);
          c.broadcast("projectAdded", project);
          return project;
        },
      },
      listProjects: {
        input: z
          .strictObject({ page, perPage, status: z.enum(PROJECT_STATUSES).optional() })
          .default({ page: 1, perPage: 20 }),
        async run(c, { page, perPage, status }) {
          let query = c.db.selectFrom("projects");
          if (status !== undefined) query = query.where("status", "=", status);
          const items = await query
            .selectAll()
            .orderBy("id")
            .limit(perPage)
            .offset((page - 1) * perPage)
            .execute();
          const total = await query
            .select((eb) => eb.fn.countAll<number | string>().as("n"))
            .executeTakeFirstOrThrow();
          return { items, page, perPage, totalItems: Number(total.n) };
        },
      },
      getStats: {
        async run(c) {
          const rows = await c.db
            .selectFrom("projects")
            .select(["status", (eb) => eb.fn.countAll<number | string>().as("n")])
            .groupBy("status")
            .execute();
          const byStatus: Record<ProjectStatus, number> = { planning: 0, active: 0, done: 0 };
          for (const row of rows) byStatus[row.status] = Number(row.n);
          const times = await c.db
            .selectFrom("company")
            .select(["created_at", "updated_at"])
            .executeTakeFirst();
          return {
            company: c.key,
            employees: await count(c.db, "employees"),
            projects: rows.reduce((sum, row) => sum + Number(row.n), 0),
            byStatus,
            /** First and latest write (null before the first). */
            createdAt: times?.created_at ?? null,
            updatedAt: times?.updated_at ?? null,
          };
        },
      },
    },
    demo: {
      tenants: {
        "Acme Co": [
          { action: "addEmployee", input: { name: "Ada Lovelace", role: "Engineer" } },
          { action: "addEmployee", input: { name: "Grace Hopper", role: "Engineer" } },
          { action: "addEmployee", input: { name: "Peter Drucker", role: "Manager" } },
          { action: "addProject", input: { name: "Analytical Engine", status: "active" } },
          { action: "addProject", input: { name: "Compiler", status: "planning" } },
          { action: "addProject", input: { name: "Payroll", status: "done" } },
        ],
        Globex: [
          { action: "addEmployee", input: { name: "Hank Scorpio", role: "CEO" } },
          { action: "addEmployee", input: { name: "Homer Simpson", role: "Safety Inspector" } },
          { action: "addProject", input: { name: "Doomsday Device", status: "active" } },
          { action: "addProject", input: { name: "Hammock District", status: "planning" } },
        ],
      },
      example: { action: "listEmployees", input: { page: 1, perPage: 10 } },
    },
    server: {
      // Every company's people sign in to its own database; the first one, the owner, signs up.
      collections: [membersCollection],
      signup: { collection: "members", role: "owner" },
      // The dashboard (examples/company/web), built by `npm start` and `npm test`.
      public: fileURLToPath(new URL("./web/dist", import.meta.url)),
    },
  });
}

const company = companyDefinition({ maxRows: maxRowsFromEnv(process.env) });
export default company;
