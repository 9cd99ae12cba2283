import { act, render, renderHook } from "@testing-library/react";
import type { ReactNode } from "react";
import { Provider } from "react-redux";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { useMarketNow } from "../hooks";
import { makeStore } from "../store";
import { expirySelected, snapshotReceived } from "../store/chainSlice";
import { healthReceived } from "../store/marketSlice";
import { connectionChanged, historyAnswered, timeTravel, type HistoryStatus } from "../store/uiSlice";
import { snapshot } from "../test/fixtures";
import { CLOSED, health, OPEN, SUNDAY } from "../test/sessions";
import type { ExpiryInfo, Session, Snapshot } from "../types";
import { Banners, ChainHeader, ConnectionBadge, ExpiryTabs, HistoryBanner } from "./Panels";

// The browser's clock is deliberately wrong (and in another day): only the API's counts.
const BROWSER_NOW = Date.parse("2031-01-01T03:00:00Z");

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(BROWSER_NOW);
});
afterEach(() => vi.useRealTimers());

/** The snapshot's market time `ts` defaults to a minute before the session's close. */
interface Opts {
  stale?: boolean;
  ageMs?: number;
  ts?: number;
}

/** A store after one health answer at `now` and a snapshot of 1 Dec received `ageMs` ago. */
function setup(session: Session, now: string, opts: Opts = {}) {
  const store = makeStore();
  const h = health(session, now);
  store.dispatch(healthReceived({ health: h, receivedAt: Date.now() }));
  store.dispatch(expirySelected("2026-12-01"));
  const ts = opts.ts ?? Date.parse(session.last_close) / 1000 - 60;
  const snap = { ...snapshot(1), ts, days_to_expiry: 4.24, stale: opts.stale ?? false };
  store.dispatch(snapshotReceived({ snapshot: snap, source: "rest", receivedAt: Date.now() - (opts.ageMs ?? 0) }));
  store.dispatch(connectionChanged("polling"));
  const wrap = ({ children }: { children: ReactNode }) => <Provider store={store}>{children}</Provider>;
  return { store, h, wrap };
}

function banners(session: Session, now: string, opts: Opts = {}) {
  const { h, wrap } = setup(session, now, opts);
  const view = render(
    <>
      <Banners health={h} />
      <ConnectionBadge />
    </>,
    { wrapper: wrap },
  );
  const texts = [...view.container.querySelectorAll(".banner")].map((b) => b.textContent);
  const badge = view.container.querySelector("[data-badge]")?.getAttribute("data-badge");
  return { texts, badge, view };
}

describe("the session banner", () => {
  it("open: no session banner, and old data is stale", () => {
    const { texts, badge } = banners(OPEN, "2026-11-25T10:00:00+05:30", { stale: true, ageMs: 60_000 });
    expect(badge).toBe("stale");
    expect(texts.some((t) => t?.startsWith("Market closed"))).toBe(false);
    expect(texts.some((t) => t?.startsWith("Data is stale"))).toBe(true);
  });

  it("closed on a trading day: the session of the day, its close and the next open; not stale", () => {
    const { texts, badge, view } = banners(CLOSED, "2026-11-25T18:00:00+05:30", { stale: true, ageMs: 60_000 });
    expect(badge).toBe("closed");
    expect(texts).toEqual([
      "Market closed · showing the session of Wed 25 Nov, closed 15:30 IST · opens Thu 26 Nov 09:15 IST",
    ]);
    expect(view.container.querySelector(".banner.warn")).toBeNull();
  });

  it("a weekend: why, the last session and the next open; not stale", () => {
    const { texts, badge } = banners(SUNDAY, "2026-11-29T12:00:00+05:30", { stale: true, ageMs: 3_600_000 });
    expect(badge).toBe("closed");
    expect(texts).toEqual([
      "Market closed (Sunday) · showing the last session, Fri 27 Nov · next open Mon 30 Nov 09:15 IST",
    ]);
  });
});

describe("the Kite banner", () => {
  it.each([
    ["waiting", "The feed is waiting for the day's Kite login: no live data yet. Kite login"],
    ["expired", "The Kite session has expired: live data has stopped. Kite login"],
  ] as const)("token %s: says so and offers the login", (token, text) => {
    const h = health(OPEN, "2026-11-25T10:00:00+05:30");
    const view = render(<Banners health={{ ...h, feed: { ...h.feed, token } }} />, {
      wrapper: setup(OPEN, "2026-11-25T10:00:00+05:30").wrap,
    });
    const banners = view.container.querySelectorAll(".banner.error");
    expect(banners).toHaveLength(1);
    expect(banners[0]?.textContent).toBe(text);
    expect(banners[0]?.querySelector("button")?.textContent).toBe("Kite login");
  });

  it("token ok: no Kite banner", () => {
    const { texts } = banners(OPEN, "2026-11-25T10:00:00+05:30");
    expect(texts.some((t) => t?.includes("Kite"))).toBe(false);
  });
});

describe("days to expiry", () => {
  it("reads the same on the tab and in the header", () => {
    // The API's list said 1.7 (its clock, Sunday night); the chain on screen was valued at 4.24.
    const { wrap } = setup(SUNDAY, "2026-11-29T23:53:00+05:30");
    const expiries: ExpiryInfo[] = [
      { expiry: "2026-12-01", days_to_expiry: 1.65, kind: "weekly", lot_size: 65 },
      { expiry: "2026-12-08", days_to_expiry: 8.65, kind: "weekly", lot_size: 65 },
    ];
    const view = render(
      <>
        <ExpiryTabs expiries={expiries} current="2026-12-01" onSelect={() => undefined} />
        <ChainHeader />
      </>,
      { wrapper: wrap },
    );
    const tab = view.container.querySelector('[data-expiry="2026-12-01"] small')?.textContent;
    const other = view.container.querySelector('[data-expiry="2026-12-08"] small')?.textContent;
    const header = [...view.container.querySelectorAll(".stat")].find((s) => s.querySelector("span")?.textContent === "DTE");
    expect(header?.querySelector("b")?.textContent).toBe("4.24");
    expect(tab).toBe("4.24d");
    expect(other).toBe("11.24d");
  });

  it("counts from the server's clock without a snapshot", () => {
    const store = makeStore();
    store.dispatch(healthReceived({ health: health(CLOSED, "2026-11-30T15:30:00+05:30"), receivedAt: Date.now() }));
    const view = render(
      <Provider store={store}>
        <ExpiryTabs expiries={[{ expiry: "2026-12-01", days_to_expiry: 9, kind: "weekly", lot_size: 65 }]} current={null} onSelect={() => undefined} />
      </Provider>,
    );
    expect(view.container.querySelector("small")?.textContent).toBe("1.00d");
  });

  it("shows the API's listed count before its clock is known, never the browser's", () => {
    const store = makeStore();
    const view = render(
      <Provider store={store}>
        <ExpiryTabs expiries={[{ expiry: "2026-12-01", days_to_expiry: 1.256, kind: "weekly", lot_size: 65 }]} current={null} onSelect={() => undefined} />
      </Provider>,
    );
    expect(view.container.querySelector("small")?.textContent).toBe("1.26d");
  });
});

describe("useMarketNow", () => {
  it("is the API's time advanced by the local clock between health answers", () => {
    const { store, wrap } = setup(SUNDAY, "2026-11-29T12:00:00+05:30");
    const { result } = renderHook(() => useMarketNow(1000), { wrapper: wrap });
    expect(result.current).toBe(Date.parse("2026-11-29T12:00:00+05:30"));
    act(() => vi.advanceTimersByTime(5_000));
    expect(result.current).toBe(Date.parse("2026-11-29T12:00:05+05:30"));
    // The next answer re-anchors it (here the API's clock is 2 s behind the local estimate).
    act(() => {
      store.dispatch(healthReceived({ health: health(SUNDAY, "2026-11-29T12:00:03+05:30"), receivedAt: Date.now() }));
    });
    act(() => vi.advanceTimersByTime(1_000));
    expect(result.current).toBe(Date.parse("2026-11-29T12:00:04+05:30"));
  });
});

describe("the session banner and the data's own day", () => {
  it("adds the data's stamp when it is not from the session the calendar names", () => {
    // 1_790_000_000 is Mon 21 Sep 2026 19:43 IST: not Fri 27 Nov.
    const { texts } = banners(SUNDAY, "2026-11-29T12:00:00+05:30", { ts: 1_790_000_000 });
    expect(texts).toEqual([
      "Market closed (Sunday) · showing the last session, Fri 27 Nov · next open Mon 30 Nov 09:15 IST · data stamped Mon 21 Sep 19:43 IST",
    ]);
  });
});

describe("history mode's banner", () => {
  const AT = "2026-11-30T09:00:00+05:30";

  function historyView(status: HistoryStatus, snap?: Snapshot) {
    const store = makeStore();
    store.dispatch(expirySelected("2026-12-01"));
    store.dispatch(timeTravel(AT));
    if (snap) store.dispatch(snapshotReceived({ snapshot: snap, source: "history" }));
    store.dispatch(historyAnswered(status));
    const view = render(
      <Provider store={store}>
        <HistoryBanner at={AT} />
      </Provider>,
    );
    return { store, view };
  }

  afterEach(() => vi.unstubAllGlobals());

  it("says there is no data at that minute in the API's words, and offers the API's nearest minute", () => {
    const { store, view } = historyView({ state: "missing", detail: "no chain at or before 09:00", nearest: "2026-11-30T09:15:00+05:30" });
    const banner = view.container.querySelector("[data-history]");
    expect(banner?.getAttribute("data-history")).toBe("missing");
    expect(banner?.textContent).toContain("No data at Mon 30 Nov 09:00 IST: the API says “no chain at or before 09:00”.");
    const offer = view.getByText("Show Mon 30 Nov 09:15 IST");
    act(() => offer.click());
    expect(store.getState().ui.at).toBe("2026-11-30T09:15:00+05:30");
  });

  it("without the API's nearest minute, offers the day's first archived minute after it", async () => {
    vi.useRealTimers();
    const asked: string[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (req: Request) => {
        asked.push(req.url);
        const points = [{ minute: "2026-11-30T09:16:00+05:30", spot: 1 }, { minute: "2026-11-30T09:17:00+05:30", spot: 2 }];
        return new Response(JSON.stringify({ expiry: "2026-12-01", date: "2026-11-30", points }), {
          status: 200,
          headers: { "content-type": "application/json" },
        });
      }),
    );
    const { view } = historyView({ state: "missing", detail: "no chain", nearest: null });
    await vi.waitFor(() => expect(view.getByText("Show Mon 30 Nov 09:16 IST")).toBeTruthy());
    expect(new URL(asked[0]!).searchParams.get("date")).toBe("2026-11-30");
  });

  it("says whose chain it is when the API answered with an earlier minute's", () => {
    vi.stubGlobal("fetch", vi.fn(async () => new Response("[]", { status: 200, headers: { "content-type": "application/json" } })));
    const earlier = { ...snapshot(1), minute: "2026-11-27T15:29:00+05:30" };
    const { view } = historyView({ state: "loaded", detail: null, nearest: null }, earlier);
    const banner = view.container.querySelector("[data-history]");
    expect(banner?.getAttribute("data-history")).toBe("earlier");
    expect(banner?.textContent).toContain("No data at Mon 30 Nov 09:00 IST: showing the last minute before it, Fri 27 Nov 15:29 IST.");
  });
});
