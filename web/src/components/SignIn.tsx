/** The signed-out page (Cognito mode) and the header's account control. */
import { useSyncExternalStore } from "react";
import { getAuth, type AuthStatus } from "../auth";

export function SignIn({ status, onSignIn }: { status: AuthStatus; onSignIn: () => void }) {
  const busy = status.state === "signing-in";
  const message = status.state === "signed-out" ? status.message : undefined;
  return (
    <div className="signin">
      <h1>
        Strike<span>board</span>
      </h1>
      {/* Before sign-in the followed underlyings are unknown (GET /api/underlyings needs a token). */}
      <p>Live index option chains. Sign in with your team account to continue.</p>
      {message ? (
        <p className="banner error" role="alert">
          {message}
        </p>
      ) : null}
      <button className="primary" onClick={onSignIn} disabled={busy}>
        {busy ? "Signing in…" : "Sign in"}
      </button>
    </div>
  );
}

/** Who is signed in, and a sign-out button (nothing in dev mode: there is no one to sign out). */
export function Account() {
  const auth = getAuth();
  const status = useSyncExternalStore(
    (l) => auth.subscribe(l),
    () => auth.status(),
  );
  if (auth.mode !== "cognito" || status.state !== "signed-in") return null;
  return (
    <span className="account">
      <span className="user" title={status.user}>
        {status.user}
      </span>
      <button onClick={() => auth.signOut()} title="Sign out">
        Sign out
      </button>
    </span>
  );
}
