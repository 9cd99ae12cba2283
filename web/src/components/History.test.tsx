/** History mode shows one minute everywhere: the top bar's quotes and the charts' ends. */
import { act, fireEvent, render } from "@testing-library/react";
import { Provider } from "react-redux";
import { afterEach, describe, expect, it, vi } from "vitest";
import { makeStore } from "../store";
import { marketReceived } from "../store/marketSlice";
import { timeTravel } from "../store/uiSlice";
import { untilMinute, strikePoints, fmtCompact, fmtCrore } from "./Charts";
import { tooltipLines, xLabel } from "./Chart";
import { HistoryPicker, MarketBar } from "./Panels";
import { chartTime } from "../clock";

const AT = "2026-11-25T10:16:00+05:30";

afterEach(() => vi.unstubAllGlobals());

function json(body: unknown, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

describe("the top bar in history mode", () => {
  it("shows the chosen minute's quotes with their change, not the live ones", async () => {
    const asked: string[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (req: Request) => {
        asked.push(req.url);
        return json({
          instruments: { "NIFTY 50": { token: 256265, ltp: 25990.5, close: 26100, change: -109.5, change_pct: -0.42 } },
          stale: true,
          age_s: 60,
          market_open: false,
          source: "archive",
        });
      }),
    );
    const store = makeStore();
    store.dispatch(marketReceived({ instruments: { "NIFTY 50": { ltp: 26500, change: 400 } }, marketOpen: true, stale: false }));
    const view = render(
      <Provider store={store}>
        <MarketBar />
      </Provider>,
    );
    const ltp = () => view.container.querySelector('[data-name="NIFTY 50"] .ltp')?.textContent;
    expect(ltp()).toBe("26,500.00");
    act(() => {
      store.dispatch(timeTravel(AT));
    });
    await vi.waitFor(() => expect(ltp()).toBe("25,990.50"));
    expect(view.container.querySelector('[data-name="NIFTY 50"] .chg .abs')?.textContent).toBe("-109.50");
    expect(view.container.querySelector(".market")?.getAttribute("data-source")).toBe("history");
    expect(new URL(asked[0]!).searchParams.get("at")).toBe(AT);
    act(() => {
      store.dispatch(timeTravel(null));
    });
    expect(ltp()).toBe("26,500.00");
  });

  it("shows dashes, not live numbers, for a minute without archived quotes", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => json({ detail: "no quotes archived" }, 404)));
    const store = makeStore();
    store.dispatch(marketReceived({ instruments: { "NIFTY 50": { ltp: 26500 } }, marketOpen: true, stale: false }));
    store.dispatch(timeTravel(AT));
    const view = render(
      <Provider store={store}>
        <MarketBar />
      </Provider>,
    );
    await vi.waitFor(() => expect(view.container.querySelector(".market")?.getAttribute("title")).toMatch(/No quotes archived/));
    expect(view.container.querySelector('[data-name="NIFTY 50"] .ltp')?.textContent).toBe("–");
  });
});

describe("the charts in history mode", () => {
  const points = ["10:14", "10:15", "10:16", "10:17"].map((t, i) => ({ minute: `2026-11-25T${t}:00+05:30`, spot: i }));

  it("end at the chosen minute", () => {
    expect(untilMinute(points, AT).map((p) => p.spot)).toEqual([0, 1, 2]);
    expect(untilMinute(points, "2026-11-25T10:16:40+05:30").map((p) => p.spot)).toEqual([0, 1, 2]);
    // A copy to extend with the live minute, even of the query's frozen array.
    const live = untilMinute(Object.freeze([...points]), null);
    live.push(points[0]!);
    expect(live).toHaveLength(5);
  });

  it("label the crosshair's x in IST and every series' value, puts unmirrored", () => {
    expect(xLabel("time", chartTime(AT))).toBe("10:16 IST");
    expect(xLabel("price", 26000)).toBe("Strike 26000");
    const lines = tooltipLines([{ title: "Call OI" }, { title: "Put OI", sign: -1 }], [1_200_000, -3_400_000], (v) => String(v), "OI");
    expect(lines).toEqual(["Call OI: 1200000", "Put OI: 3400000"]);
    expect(tooltipLines([{}], [undefined], String, "X")).toEqual([]);
  });

  it("share one strike axis: a strike without a value is a whitespace point or an invisible bar", () => {
    const rows = [26000, 26050].map((strike) => ({
      strike, callOi: strike === 26000 ? 5 : null, putOi: null, callOiChange: null, putOiChange: null, callIv: null, putIv: null, iv: null, gex: null,
    }));
    expect(strikePoints(rows, (r) => r.callOi, "line")).toEqual([{ time: 26000, value: 5 }, { time: 26050 }]);
    expect(strikePoints(rows, (r) => r.callOi, "histogram")).toEqual([{ time: 26000, value: 5 }, { time: 26050, value: 0, color: "transparent" }]);
    expect(strikePoints(rows, (r) => r.iv, "histogram").map((p) => p.time)).toEqual([26000, 26050]);
  });

  it("state GEX in ₹ crore, and an all-zero axis reads 0", () => {
    expect(fmtCrore(8e10)).toBe("8,000");
    expect(fmtCrore(-1.25e7)).toBe("-1.3");
    expect([fmtCompact(-0.4), fmtCompact(0.3), fmtCompact(-2_50_000)]).toEqual(["0", "0", "-2.50L"]);
  });
});

describe("the history picker", () => {
  it("takes dd-mm-yyyy HH:MM in IST, steps by the minute, and travels there", () => {
    vi.useFakeTimers();
    vi.setSystemTime(Date.parse("2026-11-25T06:00:00Z")); // 11:30 IST, no health answer yet
    const store = makeStore();
    const view = render(
      <Provider store={store}>
        <HistoryPicker />
      </Provider>,
    );
    const input = view.getByLabelText("past minute (IST)") as HTMLInputElement;
    const go = view.getByText("Go") as HTMLButtonElement;
    fireEvent.change(input, { target: { value: "11/25/2026 10:15 AM" } });
    expect(input.getAttribute("aria-invalid")).toBe("true");
    expect(go.disabled).toBe(true);
    fireEvent.change(input, { target: { value: "25-11-2026 10:15" } });
    fireEvent.keyDown(input, { key: "ArrowUp" });
    expect(input.value).toBe("25-11-2026 10:16");
    fireEvent.click(view.getByLabelText("a minute earlier"));
    fireEvent.click(view.getByLabelText("a minute earlier"));
    expect(input.value).toBe("25-11-2026 10:14");
    fireEvent.change(input, { target: { value: "25-11-2026 12:00" } }); // after the market's now
    expect(go.disabled).toBe(true);
    fireEvent.change(input, { target: { value: "25-11-2026 10:14" } });
    fireEvent.click(go);
    expect(store.getState().ui.at).toBe("2026-11-25T10:14:00+05:30");
    vi.useRealTimers();
  });
});
