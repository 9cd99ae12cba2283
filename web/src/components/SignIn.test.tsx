import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { Provider } from "react-redux";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DevSession, setAuth, type Auth, type AuthStatus } from "../auth";
import { makeStore } from "../store";
import { CLOSED, health } from "../test/sessions";
import { Banners } from "./Panels";
import { Account, SignIn } from "./SignIn";

afterEach(() => {
  cleanup();
  setAuth(new DevSession());
  vi.unstubAllGlobals();
});

function cognitoAuth(): Auth & { set(s: AuthStatus): void } {
  let status: AuthStatus = { state: "signed-in", user: "trader@example.test" };
  const listeners = new Set<() => void>();
  return {
    mode: "cognito",
    token: async () => "t",
    renew: async () => null,
    status: () => status,
    subscribe: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    signOut: vi.fn(),
    set(s) {
      status = s;
      for (const l of listeners) l();
    },
  };
}

describe("the account control", () => {
  it("shows nothing in dev mode (and renders once: a stable status)", () => {
    const { container } = render(<Account />);
    expect(container.innerHTML).toBe("");
  });

  it("shows the user and signs out; hides once signed out", () => {
    const auth = cognitoAuth();
    setAuth(auth);
    const { container } = render(<Account />);
    expect(screen.getByText("trader@example.test")).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Sign out" }));
    expect(auth.signOut).toHaveBeenCalledOnce();
    act(() => auth.set({ state: "signed-out" }));
    expect(container.innerHTML).toBe("");
  });
});

describe("the signed-out page", () => {
  it("says why the last sign-in was refused and offers another", () => {
    const onSignIn = vi.fn();
    render(<SignIn status={{ state: "signed-out", message: "Sign-in refused: the state does not match." }} onSignIn={onSignIn} />);
    expect(screen.getByRole("alert").textContent).toMatch(/state does not match/);
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(onSignIn).toHaveBeenCalledOnce();
  });

  it("names no single index: a deployment may follow several", () => {
    const { container } = render(<SignIn status={{ state: "signed-out" }} onSignIn={vi.fn()} />);
    expect(screen.getByText(/Live index option chains/)).toBeTruthy();
    expect(container.textContent).not.toMatch(/NIFTY|SENSEX|BANKEX/);
  });
});

describe("Kite login banner", () => {
  it("appears while the feed waits for a token, and explains a 403", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => new Response("{}", { status: 403 })));
    const store = makeStore();
    const h = health(CLOSED, "2026-11-25T16:00:00+05:30");
    render(
      <Provider store={store}>
        <Banners health={{ ...h, feed: { ...h.feed!, token: "waiting" } }} />
      </Provider>,
    );
    expect(screen.getByText(/waiting for the day's Kite login/)).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Kite login" }));
    expect((await screen.findByRole("alert")).textContent).toMatch(/Only members of the admin group/);
  });
});
