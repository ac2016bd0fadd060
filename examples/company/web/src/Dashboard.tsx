import { useCallback, useEffect, useState } from "react";
import type { Employee, Project, ProjectStatus } from "../../definition.js";
import { companyDb, type Session } from "./session.js";

interface Stats {
  employees: number;
  projects: number;
  byStatus: Record<ProjectStatus, number>;
}

const STATUSES: ProjectStatus[] = ["planning", "active", "done"];

export function Dashboard({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  const [db] = useState(() => companyDb(session));
  const [employees, setEmployees] = useState<Employee[]>([]);
  const [projects, setProjects] = useState<Project[]>([]);
  const [stats, setStats] = useState<Stats | null>(null);
  const [live, setLive] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const refresh = useCallback(async () => {
    try {
      const [people, work, numbers] = await Promise.all([
        db.action("listEmployees", { page: 1, perPage: 100 }),
        db.action("listProjects", { page: 1, perPage: 100 }),
        db.action("getStats"),
      ]);
      setEmployees(people.items as Employee[]);
      setProjects(work.items as Project[]);
      setStats(numbers as Stats);
    } catch (caught) {
      setError((caught as Error).message);
    }
  }, [db]);

  const refreshStats = useCallback(() => {
    db.action("getStats").then(
      (numbers) => setStats(numbers as Stats),
      (caught: Error) => setError(caught.message),
    );
  }, [db]);

  // Live: every tab of this company hears what any of them adds.
  useEffect(() => {
    let stopped = false;
    const offs: Array<() => Promise<void> | void> = [];
    refresh();
    // The event carries the new row: show it at once, then recount.
    const onEmployee = (employee: Employee) => {
      setEmployees((list) => (list.some((e) => e.id === employee.id) ? list : [...list, employee]));
      refreshStats();
    };
    const onProject = (project: Project) => {
      setProjects((list) => (list.some((p) => p.id === project.id) ? list : [...list, project]));
      refreshStats();
    };
    Promise.all([
      db.on<Employee>("employeeAdded", onEmployee),
      db.on<Project>("projectAdded", onProject),
    ])
      .then((subscriptions) => {
        offs.push(...subscriptions);
        if (stopped) for (const off of offs) off();
        else setLive(true);
      })
      .catch((caught: Error) => setError(`Live updates unavailable: ${caught.message}`));
    return () => {
      stopped = true;
      for (const off of offs) off();
    };
  }, [db, refresh, refreshStats]);

  return (
    <main className="dashboard">
      <header>
        <h1>{session.company}</h1>
        <span className={live ? "live on" : "live"} data-testid="live">
          {live ? "● live" : "○ connecting"}
        </span>
        <span className="muted">{session.email}</span>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {stats && (
        <section className="stats" aria-label="Stats">
          <div>
            <strong data-testid="employee-count">{stats.employees}</strong>{" "}
            {stats.employees === 1 ? "employee" : "employees"}
          </div>
          <div>
            <strong data-testid="project-count">{stats.projects}</strong>{" "}
            {stats.projects === 1 ? "project" : "projects"}
          </div>
          {STATUSES.map((status) => (
            <div key={status}>
              <strong>{stats.byStatus[status]}</strong> {status}
            </div>
          ))}
        </section>
      )}
      <div className="columns">
        <section aria-label="Employees">
          <h2>Employees</h2>
          <AddForm
            label="Add employee"
            fields={[
              { name: "name", placeholder: "Name", max: 100 },
              { name: "role", placeholder: "Role", max: 50 },
            ]}
            onAdd={(values) =>
              db.action("addEmployee", { name: values.name!, role: values.role! }).then(refresh)
            }
            onError={setError}
          />
          <ul data-testid="employees">
            {employees.map((employee) => (
              <li key={employee.id}>
                {employee.name} <span className="muted">{employee.role}</span>
              </li>
            ))}
          </ul>
        </section>
        <section aria-label="Projects">
          <h2>Projects</h2>
          <AddForm
            label="Add project"
            fields={[{ name: "name", placeholder: "Project name", max: 100 }]}
            statuses
            onAdd={(values) =>
              db
                .action("addProject", {
                  name: values.name!,
                  status: (values.status as ProjectStatus) ?? "planning",
                })
                .then(refresh)
            }
            onError={setError}
          />
          <ul data-testid="projects">
            {projects.map((project) => (
              <li key={project.id}>
                {project.name} <span className={`badge ${project.status}`}>{project.status}</span>
              </li>
            ))}
          </ul>
        </section>
      </div>
    </main>
  );
}

interface Field {
  name: string;
  placeholder: string;
  max: number;
}

function AddForm(props: {
  label: string;
  fields: Field[];
  statuses?: boolean;
  onAdd: (values: Record<string, string>) => Promise<unknown>;
  onError: (message: string | null) => void;
}) {
  const empty = () => Object.fromEntries(props.fields.map((f) => [f.name, ""]));
  const [values, setValues] = useState<Record<string, string>>(empty);
  const [status, setStatus] = useState<ProjectStatus>("planning");
  const [busy, setBusy] = useState(false);

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    setBusy(true);
    try {
      await props.onAdd(props.statuses ? { ...values, status } : values);
      setValues(empty());
      props.onError(null);
    } catch (caught) {
      props.onError((caught as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} aria-label={props.label} className="add">
      {props.fields.map((field) => (
        <input
          key={field.name}
          name={field.name}
          placeholder={field.placeholder}
          value={values[field.name] ?? ""}
          maxLength={field.max}
          required
          onChange={(e) => setValues({ ...values, [field.name]: e.target.value })}
        />
      ))}
      {props.statuses && (
        <select
          name="status"
          value={status}
          onChange={(e) => setStatus(e.target.value as ProjectStatus)}
        >
          {STATUSES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      )}
      <button type="submit" disabled={busy}>
        {props.label}
      </button>
    </form>
  );
}
