import { act, cleanup, fireEvent, render } from "@testing-library/react";
import { Provider } from "react-redux";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { AlertRule, FiredAlert } from "../alerts/types";
import { makeStore, type AppStore } from "../store";
import { alertDraftStarted, EMPTY_DRAFT } from "../store/alertsSlice";
import { snapshotReceived } from "../store/chainSlice";
import { healthReceived } from "../store/marketSlice";
import { snapshot } from "../test/fixtures";
import type { Health } from "../types";
import { Alerts, AlertsButton, describeRule, ruleRequest, ruleState } from "./Alerts";

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const RULE: AlertRule = {
  id: 3, kind: "iv", underlying: "NIFTY", expiry: "2026-12-01", strike: 26_000, option_type: "CE", op: "crosses_below",
  level: 0.11, hysteresis: 0, email: false, note: "", created_at: "2026-11-25T10:00:00+05:30", armed: true, side: "above",
  last_value: 0.12, observed_at: "2026-11-25T10:00:01+05:30", crossings: 0,
};
const FIRED: FiredAlert = {
  id: 9, rule_id: 7, crossing: 1, kind: "spot", underlying: "NIFTY", expiry: null, strike: null, option_type: null,
  op: "crosses_above", level: 26_000, value: 26_010.5, previous: 25_990, text: "NIFTY spot crossed above 26000 (26010.5)",
  note: "", fired_at: "2026-11-25T10:41:12+05:30",
};

/** The API at the network boundary: rules, events, and what the page sent. */
function serve(rules: AlertRule[], events: FiredAlert[] = []) {
  const sent: { method: string; path: string; body: unknown }[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (req: Request) => {
      const path = new URL(req.url).pathname + new URL(req.url).search;
      const body = req.method === "POST" ? await req.clone().json() : null;
      sent.push({ method: req.method, path, body });
      const json = (data: unknown, status = 200) =>
        new Response(JSON.stringify(data), { status, headers: { "content-type": "application/json" } });
      if (path.startsWith("/api/alerts/events")) return json({ events, next: null });
      if (req.method === "POST") {
        const made = { ...RULE, ...(body as object), id: 10 + rules.length };
        rules.push(made as AlertRule);
        return json(made, 201);
      }
      if (req.method === "DELETE") {
        const id = Number(path.split("/").pop());
        rules.splice(rules.findIndex((r) => r.id === id), 1);
        return new Response(null, { status: 204 });
      }
      return json({ rules, max_rules: 50, email: false });
    }),
  );
  return sent;
}

function page(store: AppStore) {
  return render(
    <Provider store={store}>
      <div className="chain-header">
        <div className="stat"><span>Spot</span><b>26,010.50</b></div>
        <div className="stat"><span>PCR</span><b>0.90</b></div>
        <div className="stat"><span>ATM IV</span><b>12.0%</b></div>
      </div>
      <div className="chain">
        <div className="row" data-strike="26000">
          <div className="c iv CE" role="cell"><span className="v">12.0</span></div>
          <div className="c volume PE" role="cell"><span className="v">100</span></div>
        </div>
      </div>
      <header className="top"><AlertsButton /></header>
      <Alerts />
    </Provider>,
  );
}

function liveStore(): AppStore {
  const store = makeStore();
  store.dispatch(snapshotReceived({ snapshot: snapshot(1), source: "ws" }));
  store.dispatch(healthReceived({ health: { now: "2026-11-25T10:45:00+05:30" } as Health, receivedAt: Date.now() }));
  return store;
}

describe("rules from the form", () => {
  it("IV in percent becomes the API's fraction; a contract needs its strike; spot takes no expiry", () => {
    const where = { underlying: "NIFTY", expiry: "2026-12-01" };
    const iv = ruleRequest({ ...EMPTY_DRAFT, kind: "iv", strike: 26_000, option_type: "PE", op: "crosses_below", level: "11.5", hysteresis: "0.5" }, where);
    expect(iv).toEqual({ body: { kind: "iv", underlying: "NIFTY", expiry: "2026-12-01", strike: 26_000, option_type: "PE",
      op: "crosses_below", level: 0.115, hysteresis: 0.005, email: false, note: "" } });
    expect(ruleRequest({ ...EMPTY_DRAFT, kind: "ltp", level: "100" }, where)).toEqual({ problem: "a strike" });
    expect(ruleRequest({ ...EMPTY_DRAFT, kind: "pcr", level: "1.2" }, { underlying: "NIFTY", expiry: null })).toEqual({
      problem: "an expiry (pick one above the chain)",
    });
    expect(ruleRequest({ ...EMPTY_DRAFT, level: "" }, where)).toEqual({ problem: "a level" });
    const spot = ruleRequest({ ...EMPTY_DRAFT, level: "26100", note: " breakout " }, where);
    expect(spot).toMatchObject({ body: { kind: "spot", expiry: null, strike: null, option_type: null, level: 26_100, note: "breakout" } });
  });

  it("describes a rule and where it stands", () => {
    expect(describeRule(RULE)).toBe("NIFTY 2026-12-01 26000 CE IV ↓ 11.00%");
    expect(ruleState(RULE, "2026-11-25")).toBe("armed (now 12.00%)");
    expect(ruleState({ ...RULE, armed: false, crossings: 2 }, "2026-11-25")).toBe("across the level · fired 2×: re-arms once back");
    expect(ruleState(RULE, "2026-12-02")).toBe("expired: never fires");
  });
});

describe("the alerts panel", () => {
  it("a right-click on a chain cell starts a rule on that leg at its value, and sets it", async () => {
    const rules: AlertRule[] = [];
    const sent = serve(rules);
    const store = liveStore();
    const view = page(store);
    const cell = view.container.querySelector(".c.iv.CE")!;
    act(() => void fireEvent.contextMenu(cell));
    expect(store.getState().alerts.draft).toMatchObject({ kind: "iv", strike: 26_000, option_type: "CE", level: "12" });
    const form = view.container.querySelector(".alert-form")!;
    expect(form.textContent).toContain("NIFTY 2026-12-01 · now 12.00%");
    fireEvent.change(view.getByLabelText("level"), { target: { value: "13.5" } });
    act(() => void fireEvent.submit(form));
    await vi.waitFor(() => expect(sent.some((r) => r.method === "POST")).toBe(true));
    expect(sent.find((r) => r.method === "POST")!.body).toEqual({ kind: "iv", underlying: "NIFTY", expiry: "2026-12-01",
      strike: 26_000, option_type: "CE", op: "crosses_above", level: 0.135, hysteresis: 0, email: false, note: "" });
    await vi.waitFor(() => expect(view.container.querySelectorAll("[data-rule]")).toHaveLength(1));
    expect(store.getState().alerts.draft).toBeNull();
    // A cell no rule can watch keeps the browser's own menu.
    const other = fireEvent.contextMenu(view.container.querySelector(".c.volume")!);
    expect(other).toBe(true);
  });

  it("the header's Spot and PCR start their rules; another figure does not", () => {
    serve([]);
    const store = liveStore();
    const view = page(store);
    const stat = (label: string) =>
      [...view.container.querySelectorAll(".chain-header .stat")].find((s) => s.firstChild?.textContent === label)!;
    act(() => void fireEvent.contextMenu(stat("PCR").lastChild!));
    expect(store.getState().alerts.draft).toMatchObject({ kind: "pcr", level: "0.9" });
    act(() => void fireEvent.contextMenu(stat("Spot")));
    expect(store.getState().alerts.draft).toMatchObject({ kind: "spot", level: "26010.5" });
    expect(fireEvent.contextMenu(stat("ATM IV"))).toBe(true);
  });

  it("lists the rules with their state, deletes one, and lists what fired while the page was closed", async () => {
    const rules = [RULE, { ...RULE, id: 4, kind: "spot" as const, expiry: null, strike: null, option_type: null, level: 26_100, op: "crosses_above" as const, armed: null }];
    const sent = serve(rules, [FIRED]);
    const store = liveStore();
    const view = page(store);
    await vi.waitFor(() => expect(store.getState().alerts.fired.map((a) => a.id)).toEqual([9]));
    expect(store.getState().alerts.unseen).toBe(0); // listed on load, not news
    act(() => (view.container.querySelector(".top .alerts-toggle") as HTMLButtonElement).click());
    await vi.waitFor(() => expect(view.container.querySelectorAll("[data-rule]")).toHaveLength(2));
    const items = [...view.container.querySelectorAll("[data-rule]")].map((li) => li.textContent);
    expect(items[0]).toContain("NIFTY 2026-12-01 26000 CE IV ↓ 11.00%");
    expect(items[0]).toContain("armed (now 12.00%)");
    expect(items[1]).toContain("waiting for a first value");
    expect(view.container.querySelector("[data-fired='9']")?.textContent).toBe("10:41 NIFTY spot crossed above 26000 (26010.5)");
    act(() => (view.getByLabelText("delete alert 3") as HTMLButtonElement).click());
    await vi.waitFor(() => expect(view.container.querySelectorAll("[data-rule]")).toHaveLength(1));
    expect(sent.filter((r) => r.method === "DELETE").map((r) => r.path)).toEqual(["/api/alerts/3"]);
  });

  it("shows the API's reason when it refuses a rule", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async (req: Request) => {
        const json = (data: unknown, status: number) => new Response(JSON.stringify(data), { status, headers: { "content-type": "application/json" } });
        if (req.method === "POST") return json({ detail: "at most 50 alert rules: delete one first" }, 422);
        if (req.url.includes("events")) return json({ events: [], next: null }, 200);
        return json({ rules: [], max_rules: 50, email: false }, 200);
      }),
    );
    const store = liveStore();
    const view = page(store);
    act(() => void store.dispatch(alertDraftStarted({ kind: "spot", level: "26100" })));
    act(() => void fireEvent.submit(view.container.querySelector(".alert-form")!));
    await vi.waitFor(() => expect(view.getByRole("alert").textContent).toBe("at most 50 alert rules: delete one first"));
    expect(store.getState().alerts.draft).not.toBeNull();
  });
});
