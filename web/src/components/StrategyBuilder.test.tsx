import { act, render } from "@testing-library/react";
import { Provider } from "react-redux";
import { afterEach, describe, expect, it, vi } from "vitest";
import { makeStore } from "../store";
import { expirySelected } from "../store/chainSlice";
import { controlsChanged, legChanged } from "../store/strategySlice";
import type { StrategyPayoff } from "../strategy/types";
import { daysBetween, payoffRequest, shareLink, StrategyBuilder } from "./StrategyBuilder";
import { StrategyChart } from "./StrategyChart";
import { StrategyFigures } from "./StrategyFigures";
import { StrategyPick } from "./StrategyPick";

afterEach(() => vi.unstubAllGlobals());

/** A long straddle at 24 000 for 380 a unit, lot 75, as the API answers it (spots 23 000-25 000). */
function straddle(): StrategyPayoff {
  const spots = Array.from({ length: 21 }, (_, i) => 23_000 + 100 * i);
  const atExpiry = spots.map((s) => (Math.abs(s - 24_000) - 380) * 75);
  return {
    underlying: "NIFTY", spot: 24_000, now: "2026-11-25T10:17:30+05:30", target: "2026-11-25T10:17:30+05:30",
    horizon: "2026-12-01", forward: 24_020, atm_iv: 0.14, iv_shift: 0, range_pct: 4.2, spots, at_expiry: atExpiry,
    at_target: spots.map((s) => (Math.abs(s - 24_000) * 0.6 - 0) * 75 - 0), target_at_spot: 0,
    breakevens: [23_620, 24_380], max_profit: null, max_loss: -28_500, pop: 0.4123, net_premium: 28_500,
    greeks: { delta: 3.2, gamma: 0.0531, theta: -2294.2, vega: 1871 },
    legs: [
      { expiry: "2026-12-01", strike: 24_000, option_type: "CE", side: "buy", lots: 1, entry: "mid", price: 200, lot_size: 75, quantity: 75, iv: 0.15, iv_source: "entry" },
      { expiry: "2026-12-01", strike: 24_000, option_type: "PE", side: "buy", lots: 1, entry: "mid", price: 180, lot_size: 75, quantity: 75, iv: 0.151, iv_source: "entry" },
    ],
    source: "live", stale: false,
  } as StrategyPayoff;
}

describe("payoff chart and figures", () => {
  it("marks the breakevens in range on the zero line and draws both curves", () => {
    const view = render(<StrategyChart payoff={straddle()} targetLabel="now" />);
    const marks = [...view.container.querySelectorAll("[data-breakeven]")].map((m) => Number(m.getAttribute("data-breakeven")));
    expect(marks).toEqual([23_620, 24_380]);
    expect(view.container.querySelector('[data-curve="expiry"]')?.getAttribute("d")).toMatch(/^M64\.0,/);
    expect(view.container.querySelector('[data-curve="target"]')).toBeTruthy();
  });

  it("says unlimited, debit, PoP and the rupee Greeks", () => {
    const view = render(<StrategyFigures payoff={straddle()} />);
    const fig = (k: string) => view.container.querySelector(`[data-fig="${k}"] dd`)?.textContent;
    expect(fig("breakevens")).toBe("23620.00 · 24380.00");
    expect(fig("max-profit")).toBe("Unlimited");
    expect(fig("max-loss")).toBe("−₹28,500");
    expect(view.container.querySelector('[data-fig="premium"] dt')?.textContent).toBe("Net debit");
    expect(fig("pop")).toBe("41.2%");
    expect(fig("theta")).toBe("-2,294");
  });
});

describe("the builder", () => {
  it("asks the API with the legs and controls and shows its answer", async () => {
    const bodies: unknown[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (req: Request) => {
        bodies.push(await req.clone().json());
        return new Response(JSON.stringify(straddle()), { status: 200, headers: { "content-type": "application/json" } });
      }),
    );
    const store = makeStore();
    store.dispatch(expirySelected("2026-12-01"));
    const view = render(
      <Provider store={store}>
        <div className="chain">
          <div className="row">
            <div className="strike"><StrategyPick strike={24000} side="CE" />24000<StrategyPick strike={24000} side="PE" /></div>
          </div>
        </div>
        <StrategyBuilder />
      </Provider>,
    );
    act(() => (view.container.querySelector('[data-pick="buy-CE"]') as HTMLButtonElement).click());
    act(() => (view.container.querySelector('[data-pick="buy-PE"]') as HTMLButtonElement).click());
    await vi.waitFor(() => expect(view.container.querySelectorAll("[data-breakeven]")).toHaveLength(2));
    const last = bodies[bodies.length - 1] as Record<string, unknown>;
    expect(last).toMatchObject({ underlying: "NIFTY", range_pct: null, iv_shift: 0, target: null, points: 201 });
    expect(last.legs).toEqual([
      { expiry: "2026-12-01", strike: 24000, option_type: "CE", side: "buy", lots: 1, entry: "mid", price: null },
      { expiry: "2026-12-01", strike: 24000, option_type: "PE", side: "buy", lots: 1, entry: "mid", price: null },
    ]);
    // the dates between now and the first expiry are offered for the T+ curve
    const dates = [...view.container.querySelectorAll('[aria-label="target date"] option')].map((o) => o.textContent);
    expect(dates).toEqual(["now", "2026-11-26", "2026-11-27", "2026-11-28", "2026-11-29", "2026-11-30"]);
    expect(view.container.querySelector("[data-priced='0']")?.textContent).toContain("+75 × 24000 CE @ 200.00");
    expect(view.container.querySelector('[aria-label="spot range"] option')?.textContent).toBe("auto (4.2%)");
  });

  it("shows the API's words when it refuses, and no earlier answer under them", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async (req: Request) => {
        const body = (await req.clone().json()) as { legs: { strike: number }[] };
        if (body.legs.every((l) => l.strike === 24000)) {
          return new Response(JSON.stringify(straddle()), { status: 200, headers: { "content-type": "application/json" } });
        }
        const detail = "NIFTY 2026-12-01 12345 CE: strike not in the chain";
        return new Response(JSON.stringify({ detail }), { status: 404, headers: { "content-type": "application/json" } });
      }),
    );
    const store = makeStore();
    store.dispatch(expirySelected("2026-12-01"));
    const view = render(
      <Provider store={store}>
        <div className="chain">
          <StrategyPick strike={24000} side="CE" />
          <StrategyPick strike={12345} side="PE" />
        </div>
        <StrategyBuilder />
      </Provider>,
    );
    act(() => (view.container.querySelector('[data-pick="buy-CE"]') as HTMLButtonElement).click());
    await vi.waitFor(() => expect(view.container.querySelectorAll("[data-breakeven]")).toHaveLength(2));
    act(() => (view.container.querySelector('[data-pick="sell-PE"]') as HTMLButtonElement).click());
    await vi.waitFor(() => expect(view.getByRole("alert").textContent).toContain("strike not in the chain"));
    expect(view.container.querySelectorAll("[data-breakeven]")).toHaveLength(0);
  });
});

describe("requests and links", () => {
  it("holds the request back until a typed entry has its price; dates are the target's close", () => {
    const store = makeStore();
    store.dispatch({ type: "strategy/legPicked", payload: { underlying: "NIFTY", expiry: "2026-12-01", strike: 24000, option_type: "CE", side: "sell" } });
    store.dispatch(legChanged({ index: 0, patch: { entry: "typed" } }));
    expect(payoffRequest(store.getState().strategy)).toBeNull();
    store.dispatch(legChanged({ index: 0, patch: { price: 150.5 } }));
    store.dispatch(controlsChanged({ targetDay: "2026-11-28", ivShift: 3 }));
    expect(payoffRequest(store.getState().strategy)).toMatchObject({ target: "2026-11-28T15:30:00", iv_shift: 3, legs: [{ price: 150.5 }] });
    expect(shareLink("http://x", "/", store.getState().strategy)).toBe("http://x/?underlying=NIFTY&strategy=NIFTY_261201C24000s1t150.5");
  });

  it("lists the days strictly between two dates", () => {
    expect(daysBetween("2026-11-29", "2026-12-02")).toEqual(["2026-11-30", "2026-12-01"]);
    expect(daysBetween("2026-12-01", "2026-12-01")).toEqual([]);
  });
});
