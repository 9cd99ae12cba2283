import { afterEach, describe, expect, it, vi } from "vitest";
import { makeStore } from ".";
import { api, historyFailure } from "./api";
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

describe("a past minute's failure", () => {
  it("a 404 is no data there, in the API's words, with its nearest minute when it names one", () => {
    expect(historyFailure({ status: 404, data: { detail: "no chain for NIFTY 2026-12-01 at or before ..." } })).toEqual({
      state: "missing",
      detail: "no chain for NIFTY 2026-12-01 at or before ...",
      nearest: null,
    });
    expect(historyFailure({ status: 404, data: { detail: "x", nearest: "2026-11-30T09:15:00+05:30" } }).nearest).toBe(
      "2026-11-30T09:15:00+05:30",
    );
    expect(historyFailure({ status: 404, data: { detail: "x", nearest: "soon" } }).nearest).toBeNull();
  });

  it("anything else failed", () => {
    expect(historyFailure({ status: 503, data: { detail: "Redis and PostgreSQL are both unavailable" } })).toEqual({
      state: "failed",
      detail: "Redis and PostgreSQL are both unavailable",
      nearest: null,
    });
    expect(historyFailure({ status: "FETCH_ERROR", error: "TypeError: Failed to fetch" })).toEqual({
      state: "failed",
      detail: "HTTP FETCH_ERROR",
      nearest: null,
    });
  });
});
