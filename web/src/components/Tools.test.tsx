import { act, fireEvent, render, waitFor } from "@testing-library/react";
import { Provider } from "react-redux";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { DailyStat, Surface } from "../api/schema.gen";
import { istDate, istTime } from "../clock";
import { makeStore } from "../store";
import { expirySelected, snapshotReceived } from "../store/chainSlice";
import { legsChosen, strikeDrilled, toolOpened, watchToggled } from "../store/toolsSlice";
import { timeTravel } from "../store/uiSlice";
import { leg, snapshot } from "../test/fixtures";
import type { Point, SeriesSpec } from "./Chart";
import { ChainTable } from "./ChainTable";
import { gexTitle } from "./Charts";
import { lastSessions } from "./DrillDown";
import { daysBack, formatRank, IvRank, statOf } from "./IvRank";
import { heatMap, termSeries } from "./SurfaceView";
import { Tools } from "./Tools";

// The charts' canvas is lightweight-charts' business: here each chart shows the series it got.
vi.mock("./Chart", async (original) => ({
  ...(await original<typeof import("./Chart")>()),
  Chart: ({ title, series }: { title: string; series: SeriesSpec[] }) => (
    <figure data-title={title} data-series={JSON.stringify(series.map((s) => ({ title: s.title, data: s.data })))} />
  ),
}));

afterEach(() => vi.unstubAllGlobals());

const STRIKES = [25_900, 25_950, 26_000, 26_050, 26_100];
const CE_TOKEN = (k: number) => 10_000 + (k - 25_900) / 50;
const PE_TOKEN = (k: number) => 20_000 + (k - 25_900) / 50;
/** The chain's market time: its day is the drill-down's. */
const TS = 1_790_000_000;
const DAY = istDate(TS * 1000);
const PREVIOUS = "2026-09-18";
const minuteIso = (secondsBefore: number) => new Date((Math.floor(TS / 60) * 60 - secondsBefore) * 1000).toISOString();

function chain() {
  const snap = snapshot(1, STRIKES);
  for (const k of STRIKES) {
    snap.strikes[String(k)] = {
      strike: k, iv: 0.12, gex: 1,
      CE: leg(100, 1000, { token: CE_TOKEN(k), iv: 0.13 }),
      PE: leg(90, 2000, { token: PE_TOKEN(k), iv: 0.14 }),
    };
  }
  return snap;
}

function stat(day: string, rank: number | null, percentile: number | null): DailyStat {
  return {
    day, expiry: "2026-12-01", minutes: 375, spot_close: 26_000, future_close: 26_050, atm_iv_open: 0.1,
    atm_iv_high: 0.12, atm_iv_low: 0.09, atm_iv_close: 0.11, straddle_close: 300, pcr_oi_close: 1,
    max_pain_close: 26_000, iv_rank: rank, iv_percentile: percentile,
  };
}

/** The API: each contract's minutes (OI = token, then token + 10), the daily statistics. */
function stubApi(extra: Record<string, unknown> = {}) {
  const asked: string[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (req: Request) => {
      const url = new URL(req.url);
      asked.push(`${url.pathname}?${url.searchParams.toString()}`);
      let body: unknown = extra[url.pathname];
      if (url.pathname === "/api/history/contract") {
        const token = Number(url.searchParams.get("token"));
        const date = url.searchParams.get("date");
        const minutes = date === DAY
          ? [{ minute: minuteIso(120), oi: token }, { minute: minuteIso(60), oi: token + 10 }]
          : [{ minute: `${date}T15:29:00+05:30`, oi: token - 5 }];
        body = { token, date, underlying: "NIFTY", expiry: "2026-12-01", strike: 26_000, option_type: "CE",
          minutes: minutes.map((m) => ({ ltp: 50, bid: null, ask: null, iv: 0.2, delta: null, gamma: null, theta: null,
            vega: null, oi_change: null, volume: 7, ...m })) };
      } else if (url.pathname === "/api/analytics/daily") {
        body = [stat(PREVIOUS, 30, 40), stat(DAY, 42, 57)];
      }
      if (body === undefined) return new Response(JSON.stringify({ detail: "no" }), { status: 404 });
      return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
    }),
  );
  return asked;
}

function mount(ui: React.ReactNode) {
  const store = makeStore();
  store.dispatch(expirySelected("2026-12-01"));
  store.dispatch(snapshotReceived({ snapshot: { ...chain(), ts: TS }, source: "ws" }));
  const view = render(<Provider store={store}>{ui}</Provider>);
  return { store, view };
}

function series(view: ReturnType<typeof render>, title: string): { title?: string; data: Point[] }[] {
  const el = view.container.querySelector(`figure[data-title^="${title}"]`);
  return el ? JSON.parse(el.getAttribute("data-series") ?? "[]") : [];
}
const values = (data: Point[]) => data.map((p) => p.value);

describe("the strike drill-down", () => {
  it("opens from the strike's button in the chain", () => {
    const { store, view } = mount(<ChainTable />);
    const button = view.container.querySelector<HTMLButtonElement>('[data-strike="26050"] .strike-open');
    expect(button?.getAttribute("aria-label")).toBe("strike 26050: drill-down");
    fireEvent.click(button!);
    expect(store.getState().tools).toMatchObject({ open: "strike", strike: 26_050 });
    expect(store.getState().ui.selectedStrike).toBe(26_050);
    // Anywhere on the strike cell too, but its buy and sell buttons only add a leg.
    fireEvent.click(view.container.querySelector('[data-strike="25950"] .strike')!);
    expect(store.getState().tools.strike).toBe(25_950);
    fireEvent.click(view.container.querySelector('[data-strike="26100"] [data-pick="sell-CE"]')!);
    expect(store.getState().tools.strike).toBe(25_950);
    expect(store.getState().strategy.legs).toHaveLength(1);
  });

  it("draws the archive's minutes of both legs extended by the live chain, and OI per session", async () => {
    const asked = stubApi();
    const { store, view } = mount(<Tools theme="dark" />);
    act(() => {
      store.dispatch(strikeDrilled(26_000));
    });
    await waitFor(() => expect(values(series(view, "OI (units)")[0]?.data ?? [])).toHaveLength(3));
    const [ce, pe] = series(view, "OI (units)");
    // Two archived minutes, then the live chain's OI at its own minute.
    expect(values(ce!.data)).toEqual([CE_TOKEN(26_000), CE_TOKEN(26_000) + 10, 1000]);
    expect(values(pe!.data)).toEqual([PE_TOKEN(26_000), PE_TOKEN(26_000) + 10, 2000]);
    expect(values(series(view, "IV (%)")[0]!.data)).toEqual([20, 20, 13]);
    expect(values(series(view, "LTP")[1]!.data)).toEqual([50, 50, 90]);
    expect(asked).toContain(`/api/history/contract?token=${CE_TOKEN(26_000)}&date=${DAY}`);
    // Sessions: the previous one's close, then the day on screen's latest (puts mirrored).
    await waitFor(() => expect(values(series(view, "OI at each session")[0]!.data)).toEqual([CE_TOKEN(26_000) - 5, 1000]));
    expect(values(series(view, "OI at each session")[1]!.data)).toEqual([-(PE_TOKEN(26_000) - 5), -2000]);
    expect(view.container.textContent).toContain("NIFTY 2026-12-01 26000");
  });

  it("in history mode ends at the minute, with nothing live", async () => {
    stubApi();
    const { store, view } = mount(<Tools theme="dark" />);
    act(() => {
      // The store's form of a history minute: IST with its offset.
      const ms = (Math.floor(TS / 60) * 60 - 120) * 1000;
      store.dispatch(timeTravel(`${istDate(ms)}T${istTime(ms)}:00+05:30`));
      // Time travel empties the chain until that minute's arrives.
      store.dispatch(snapshotReceived({ snapshot: { ...chain(), ts: ms / 1000 }, source: "history" }));
      store.dispatch(strikeDrilled(26_000));
    });
    await waitFor(() => expect(series(view, "OI (units)")[0]?.data.length).toBe(1));
    expect(values(series(view, "OI (units)")[0]!.data)).toEqual([CE_TOKEN(26_000)]);
  });

  it("lists the sessions before the day on screen, oldest first", () => {
    expect(lastSessions(["2026-11-20", "2026-11-24", "2026-11-23", "2026-11-25", "2026-11-26"], "2026-11-25", 2)).toEqual([
      "2026-11-23", "2026-11-24", "2026-11-25",
    ]);
    expect(lastSessions([], "2026-11-25", 5)).toEqual(["2026-11-25"]);
  });
});

describe("OI of chosen strikes", () => {
  it("draws a line per watched strike: calls and puts added, or one side", async () => {
    stubApi();
    const { store, view } = mount(<Tools theme="dark" />);
    act(() => {
      store.dispatch(watchToggled(26_050));
      store.dispatch(watchToggled(25_950));
      store.dispatch(toolOpened("oi"));
    });
    await waitFor(() => expect(series(view, "OI through the day")[0]?.data.length).toBe(3));
    const lines = series(view, "OI through the day");
    expect(lines.map((l) => l.title)).toEqual(["25950", "26050"]);
    const both = (k: number) => CE_TOKEN(k) + PE_TOKEN(k);
    expect(values(lines[1]!.data)).toEqual([both(26_050), both(26_050) + 20, 3000]);
    act(() => {
      store.dispatch(legsChosen("PE"));
    });
    await waitFor(() => expect(values(series(view, "OI through the day")[0]!.data)).toEqual([PE_TOKEN(25_950), PE_TOKEN(25_950) + 10, 2000]));
    // The chips remove a strike.
    fireEvent.click(view.container.querySelector("[aria-label='stop watching 25950']")!);
    expect(store.getState().tools.watched).toEqual([26_050]);
  });

  it("adds a strike from the list of the chain's strikes", () => {
    stubApi();
    const { store, view } = mount(<Tools theme="dark" />);
    act(() => {
      store.dispatch(toolOpened("oi"));
    });
    expect(view.container.textContent).toContain("Pick strikes above");
    fireEvent.change(view.container.querySelector("select[aria-label='add a strike']")!, { target: { value: "26100" } });
    expect(store.getState().tools.watched).toEqual([26_100]);
  });
});

const SURFACE: Surface = {
  underlying: "NIFTY",
  at: null,
  expiries: [
    { expiry: "2026-12-01", days_to_expiry: 1.2, forward: 26_000, atm_strike: 26_000, atm_iv: 0.1, minute: null, source: "live", stale: false,
      points: [25_900, 26_000, 26_100].map((k, i) => ({ strike: k, moneyness: 0, iv: 0.1 + 0.01 * i, call_iv: null, put_iv: null })) },
    { expiry: "2026-12-08", days_to_expiry: 8.2, forward: 26_030, atm_strike: 26_000, atm_iv: 0.11, minute: null, source: "live", stale: false,
      points: [26_000, 26_200].map((k) => ({ strike: k, moneyness: 0, iv: 0.15, call_iv: null, put_iv: null })) },
  ],
};

describe("the volatility surface", () => {
  it("draws the term structure and the heat map of the API's surface", async () => {
    const asked = stubApi({ "/api/analytics/surface": SURFACE });
    const { store, view } = mount(<Tools theme="dark" />);
    act(() => {
      store.dispatch(toolOpened("surface"));
    });
    await waitFor(() => expect(view.container.querySelector("table[aria-label='volatility surface']")).toBeTruthy());
    expect(asked).toContain("/api/analytics/surface?underlying=NIFTY");
    expect(values(series(view, "Term structure")[0]!.data)).toEqual([10, 11]);
    const rows = [...view.container.querySelectorAll("tbody tr")].map((r) => [...r.children].map((c) => c.textContent));
    expect(rows).toEqual([
      ["12-01", "10.0", "11.0", "12.0", ""],
      ["12-08", "", "15.0", "", "15.0"],
    ]);
    const hot = view.container.querySelector<HTMLElement>("tbody tr:nth-child(2) td:nth-child(3)");
    expect(hot?.style.background).toBe("rgb(182, 32, 32)"); // the highest IV: red
    expect(hot?.title).toBe("26000 · 2026-12-08: 15.00 %");
  });

  it("asks for the history minute and says when there is no chain there", async () => {
    const asked = stubApi();
    const { store, view } = mount(<Tools theme="dark" />);
    act(() => {
      store.dispatch(timeTravel("2026-11-25T09:00:00+05:30"));
      store.dispatch(toolOpened("surface"));
    });
    await waitFor(() => expect(view.container.textContent).toContain("no"));
    expect(asked).toContain("/api/analytics/surface?underlying=NIFTY&at=2026-11-25T09%3A00%3A00%2B05%3A30");
  });

  it("has no term point without an ATM IV, and no map without a forward", () => {
    const none = { ...SURFACE, expiries: SURFACE.expiries.map((e) => ({ ...e, atm_iv: null, forward: null })) };
    expect(termSeries(none)[0]!.data).toEqual([]);
    expect(heatMap(none)).toBeNull();
    expect(heatMap(SURFACE)).toMatchObject({ strikes: [25_900, 26_000, 26_100, 26_200], lo: 10, hi: 15 });
  });
});

describe("the header's IV rank and the GEX chart's figures", () => {
  it("shows the API's IV rank and percentile of the day on screen", async () => {
    stubApi();
    const { view } = mount(<IvRank />);
    await waitFor(() => expect(view.container.querySelector(".stat b")?.textContent).toBe("42 / 57"));
    expect(statOf([stat("2026-11-24", 1, 2), stat("2026-11-26", 3, 4)], "2026-11-25")?.day).toBe("2026-11-24");
    expect(statOf([], "2026-11-25")).toBeNull();
    expect(formatRank(null)).toBe("– / –");
    expect(daysBack("2026-11-30", "2026-11-25")).toBe(10);
    expect(daysBack("2026-11-30", "2020-01-01")).toBe(750);
  });

  it("titles the GEX chart with the total and the flip strike", () => {
    expect(gexTitle(undefined)).toBe("GEX, ₹ Cr per 1 % move");
    expect(gexTitle({ total: 123_400_000, flip: 24_500 })).toBe("GEX, ₹ Cr per 1 % move · total 12.3 · flip 24500");
    expect(gexTitle({ total: -5e7, flip: null })).toBe("GEX, ₹ Cr per 1 % move · total -5 · no flip");
  });
});
