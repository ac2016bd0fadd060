import { useState } from "react";
import { Dashboard } from "./Dashboard.js";
import { loadSession, type Session, saveSession, signIn, signUp } from "./session.js";

export function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const enter = (next: Session | null) => {
    saveSession(next);
    setSession(next);
  };
  return session ? (
    <Dashboard session={session} onSignOut={() => enter(null)} />
  ) : (
    <Welcome onSession={enter} />
  );
}

function Welcome({ onSession }: { onSession: (session: Session) => void }) {
  const [mode, setMode] = useState<"signup" | "signin">("signup");
  const [company, setCompany] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const enter = mode === "signup" ? signUp : signIn;
      onSession(await enter(company.trim(), email.trim(), password));
    } catch (caught) {
      setError((caught as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="welcome">
      <h1>Company dashboard</h1>
      <p className="muted">Every company gets its own database. Sign up yours, or sign in.</p>
      <div className="tabs" role="tablist">
        <button
          type="button"
          role="tab"
          aria-selected={mode === "signup"}
          onClick={() => setMode("signup")}
        >
          Sign up a company
        </button>
        <button
          type="button"
          role="tab"
          aria-selected={mode === "signin"}
          onClick={() => setMode("signin")}
        >
          Sign in
        </button>
      </div>
      <form onSubmit={submit} aria-label={mode === "signup" ? "Sign up" : "Sign in"}>
        <label>
          Company
          <input
            name="company"
            value={company}
            onChange={(e) => setCompany(e.target.value)}
            required
            maxLength={128}
          />
        </label>
        <label>
          Email
          <input
            name="email"
            type="email"
            value={email}
            onChange={(e) => setEmail(e.target.value)}
            required
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
            minLength={8}
          />
        </label>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {mode === "signup" ? "Create company" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
