/**
 * The signed-in member: company (the tenant key) and token, kept in
 * localStorage so every tab of the browser shares it.
 */
import { TenantbaseClient } from "../../../../src/client/index.js";
import type company from "../../definition.js";

export interface Session {
  company: string;
  token: string;
  email: string;
}

const KEY = "tenantbase-company-session";

export function loadSession(): Session | null {
  try {
    const raw = localStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null): void {
  if (session) localStorage.setItem(KEY, JSON.stringify(session));
  else localStorage.removeItem(KEY);
}

/** The server is the page's own origin. */
export function clientFor(token: string | null = null): TenantbaseClient {
  return new TenantbaseClient(window.location.origin, { token });
}

/** The company's database, typed from the example's definition. */
export function companyDb(session: Session) {
  return clientFor(session.token).db<typeof company>(session.company);
}

/** A new company and its owner: POST /api/signup. */
export async function signUp(company: string, email: string, password: string): Promise<Session> {
  const response = await fetch("/api/signup", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ tenant: company, email, password }),
  });
  const body = (await response.json()) as {
    token?: string;
    message?: string;
    data?: Record<string, { message?: string }>;
  };
  if (!response.ok || !body.token) {
    const details = Object.entries(body.data ?? {})
      .map(([field, error]) => `${field}: ${error.message ?? "invalid"}`)
      .join("; ");
    throw new Error(details ? `${body.message} (${details})` : (body.message ?? "Sign-up failed."));
  }
  return { company, token: body.token, email };
}

/** An existing member signs in to its company. */
export async function signIn(company: string, email: string, password: string): Promise<Session> {
  const client = clientFor();
  const auth = await client.db(company).collection("members").authWithPassword(email, password);
  return { company, token: auth.token, email };
}
