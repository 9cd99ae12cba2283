import { afterEach, describe, expect, it, vi } from "vitest";
import { makeStore } from ".";
import { api } from "./api";
import { prefsChanged } from "./prefsSlice";

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

function jsonResponse(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

describe("REST through RTK Query (fetch stubbed at the network boundary)", () => {
  it("writes preference changes to the API once per burst, with the bearer token", async () => {
    localStorage.setItem("sb.token", "tok123");
    const calls: Request[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (input: Request) => {
        calls.push(input);
        return jsonResponse(200, await input.clone().json());
      }),
    );
    const store = makeStore({ syncPrefs: true });
    store.dispatch(prefsChanged({ strikes: 12 }));
    store.dispatch(prefsChanged({ strikes: 15 }));
    await vi.waitFor(() => expect(calls).toHaveLength(1), { timeout: 3000 });
    await new Promise((r) => setTimeout(r, 600)); // past the debounce: still one request
    expect(calls).toHaveLength(1);
    const req = calls[0]!;
    expect(req.method).toBe("PUT");
    expect(new URL(req.url).pathname).toBe("/api/preferences");
    expect(req.headers.get("authorization")).toBe("Bearer tok123");
    expect((await req.clone().json()).strikes).toBe(15);
  });

  it("raises the token prompt on 401", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => jsonResponse(401, { detail: "invalid token" })));
    const store = makeStore();
    await store.dispatch(api.endpoints.health.initiate());
    expect(store.getState().ui.unauthorized).toBe(true);
  });
});
