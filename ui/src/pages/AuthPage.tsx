import { useState, type FormEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import { api } from "../api";
import { useAction } from "../action";
import { TopBar } from "../components/TopBar";
import { useSession } from "../session";

export function AuthPage({ mode }: { mode: "login" | "register" }) {
  const { signIn } = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const { busy, error, run } = useAction();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    await run(async () => {
      if (mode === "register") await api.register(email, password, name);
      signIn(await api.login(email, password));
      navigate(params.get("next") ?? "/dashboard");
    });
  };

  return (
    <main className="page narrow">
      <TopBar />
      <form onSubmit={submit} className="card">
        <h2>{mode === "login" ? "Sign in" : "Create an account"}</h2>
        {error && <p role="alert" className="error">{error}</p>}
        {mode === "register" && (
          <label>
            Your name
            <input name="name" value={name} onChange={(e) => setName(e.target.value)} required autoComplete="name" />
          </label>
        )}
        <label>
          Email
          <input name="email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} required autoComplete="email" />
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
            autoComplete={mode === "login" ? "current-password" : "new-password"}
          />
        </label>
        <button type="submit" disabled={busy}>{mode === "login" ? "Sign in" : "Create account"}</button>
        <p>
          {mode === "login" ? (
            <>No account? <Link to="/register">Create one</Link></>
          ) : (
            <>Have an account? <Link to="/login">Sign in</Link></>
          )}
        </p>
      </form>
    </main>
  );
}
