/** Sign in by pasting an access token (or, under `parley run`, a dev sign-in). */
import { useEffect, useId, useState, type FormEvent } from "react";
import { decodeToken } from "../services/session";

interface Props {
  onToken: (token: string) => void;
  problem?: string | null;
}

export function SignIn({ onToken, problem }: Props) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(problem ?? null);
  const [devSignIn, setDevSignIn] = useState(false);
  const id = useId();

  useEffect(() => {
    let live = true;
    fetch("/web/config")
      .then((r): Promise<{ dev_sign_in?: boolean }> => (r.ok ? r.json() : Promise.resolve({})))
      .then((config) => live && setDevSignIn(config.dev_sign_in === true))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, []);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const value = token.trim();
    const identity = decodeToken(value);
    if (!identity) return setError("This is not a Parley access token.");
    if (identity.role !== "admin" && identity.role !== "agent") return setError("This token is not a staff token.");
    if (identity.exp * 1000 < Date.now()) return setError("This token has expired.");
    onToken(value);
  };

  const dev = async () => {
    // A network failure is a failure too (not an unhandled rejection that leaves the form silent).
    const response = await fetch("/web/dev-sign-in", { method: "POST" }).catch(() => null);
    if (!response?.ok) return setError("Dev sign-in failed.");
    onToken(((await response.json()) as { token: string }).token);
  };

  return (
    <main className="flex min-h-screen items-center justify-center p-4">
      <form onSubmit={submit} className="w-full max-w-md space-y-4 rounded-lg bg-white p-6 shadow">
        <h1 className="text-2xl font-semibold">Parley</h1>
        <p className="text-sm text-slate-600">
          Paste a staff access token (<code>parley token --role agent --sub you</code>).
        </p>
        <div>
          <label htmlFor={id} className="block text-sm font-medium">
            Access token
          </label>
          <textarea
            id={id}
            rows={4}
            value={token}
            onChange={(e) => setToken(e.target.value)}
            className="mt-1 w-full rounded border border-slate-300 px-2 py-1 font-mono text-xs"
            aria-invalid={error ? true : undefined}
          />
        </div>
        {error && (
          <p role="alert" className="text-sm text-red-700">
            {error}
          </p>
        )}
        <div className="flex gap-2">
          <button type="submit" className="rounded bg-blue-600 px-4 py-2 font-medium text-white hover:bg-blue-700">
            Sign in
          </button>
          {devSignIn && (
            <button type="button" onClick={() => void dev()} className="rounded border border-slate-300 px-4 py-2 hover:bg-slate-50">
              Dev sign-in
            </button>
          )}
        </div>
      </form>
    </main>
  );
}
