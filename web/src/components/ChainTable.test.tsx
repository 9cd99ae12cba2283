import { act, render } from "@testing-library/react";
import { Provider } from "react-redux";
import { afterEach, describe, expect, it, vi } from "vitest";
import { COLUMNS } from "../format";
import { makeStore } from "../store";
import { deltaReceived, expirySelected, snapshotReceived } from "../store/chainSlice";
import { snapshot } from "../test/fixtures";
import { ChainTable, chainLayout, ROW_H, SPOT_H, STRIKE_W } from "./ChainTable";
import { prefsChanged } from "../store/prefsSlice";
import { leg } from "../test/fixtures";

const strikes = Array.from({ length: 21 }, (_, i) => 25500 + i * 50);

function mount() {
  const store = makeStore();
  store.dispatch(expirySelected("2026-12-01"));
  store.dispatch(snapshotReceived({ snapshot: snapshot(1, strikes), source: "ws" }));
  const view = render(
    <Provider store={store}>
      <ChainTable />
    </Provider>,
  );
  return { store, view };
}

afterEach(() => vi.restoreAllMocks());

describe("ChainTable", () => {
  it("renders calls left, puts right, the ATM row, ITM shading and the spot line", () => {
    const { view } = mount();
    const rows = view.container.querySelectorAll("[data-strike]");
    expect(rows).toHaveLength(21);
    const atm = view.container.querySelector(".row.atm");
    expect(atm?.getAttribute("data-strike")).toBe("26000");
    // Spot 26010.5: the line is a band of its own between 26000 and 26050 (it covers no row).
    const line = view.container.querySelector<HTMLElement>(".spotline");
    expect(line?.previousElementSibling?.getAttribute("data-strike")).toBe("26000");
    expect(line?.nextElementSibling?.getAttribute("data-strike")).toBe("26050");
    expect(line?.style.height).toBe(`${SPOT_H}px`);
    const body = view.container.querySelector<HTMLElement>(".tbody");
    expect(body?.style.height).toBe(`${21 * ROW_H + SPOT_H}px`);
    expect(view.container.querySelector('[data-strike="25950"]')?.classList.contains("itm-ce")).toBe(true);
    expect(view.container.querySelector('[data-strike="26050"]')?.classList.contains("itm-pe")).toBe(true);
    const cells = [...(atm?.children ?? [])].map((c) => c.className);
    expect(cells[0]).toContain("oi CE"); // OI outermost on the call side
    expect(cells[cells.length - 1]).toContain("oi PE"); // and mirrored on the put side
  });

  it("re-renders only the cells a delta changed", () => {
    const { store, view } = mount();
    const ltp = vi.spyOn(COLUMNS.ltp, "format");
    const oi = vi.spyOn(COLUMNS.oi, "format");
    act(() => {
      store.dispatch(
        deltaReceived({
          type: "delta",
          expiry: "2026-12-01",
          seq: 2,
          base: 1,
          set: { strikes: { "26000": { CE: { ltp: 123.45 } } } },
        }),
      );
    });
    expect(ltp).toHaveBeenCalledTimes(1);
    expect(oi).not.toHaveBeenCalled();
    expect(view.container.querySelector('[data-strike="26000"] .ltp.CE .v')?.textContent).toBe("123.45");
  });

  it("shades ITM by the forward, the price that picks the ATM strike, not by spot", () => {
    const store = makeStore();
    store.dispatch(expirySelected("2026-12-01"));
    // Spot 26010.5 but forward 26070: 26050 is below the forward, so its call is in the money.
    store.dispatch(snapshotReceived({ snapshot: { ...snapshot(1, strikes), forward: 26070, atm_strike: 26050 }, source: "ws" }));
    const view = render(
      <Provider store={store}>
        <ChainTable />
      </Provider>,
    );
    const row = view.container.querySelector('[data-strike="26050"]');
    expect(row?.classList.contains("itm-ce")).toBe(true);
    expect(row?.classList.contains("itm-pe")).toBe(false);
    expect(row?.classList.contains("atm")).toBe(true);
    expect(view.container.querySelector('[data-strike="26100"]')?.classList.contains("itm-pe")).toBe(true);
  });

  it("flashes only the changed digits, once a second at most, and not when turned off", () => {
    vi.spyOn(performance, "now").mockReturnValue(10_000);
    const { store, view } = mount();
    const cell = () => view.container.querySelector<HTMLElement>('[data-strike="26000"] .ltp.CE .v')!;
    const tick = (seq: number, ltp: number) =>
      act(() => {
        store.dispatch(
          deltaReceived({ type: "delta", expiry: "2026-12-01", seq, base: seq - 1, set: { strikes: { "26000": { CE: { ltp } } } } }),
        );
      });
    tick(2, 100.25);
    expect(cell().textContent).toBe("100.25");
    const mark = cell().querySelector(".fx");
    expect(mark?.textContent).toBe("25"); // "100.00" -> "100.25": only "25" flashes
    expect(mark?.classList.contains("fu")).toBe(true);
    expect(cell().closest(".c")?.classList.contains("fu")).toBe(false); // not the whole cell
    tick(3, 99.75); // within the second: the value changes, no new flash
    expect(cell().textContent).toBe("99.75");
    expect(cell().querySelector(".fx")).toBeNull();
    vi.spyOn(performance, "now").mockReturnValue(11_500);
    tick(4, 99.5);
    expect(cell().querySelector(".fx.fd")?.textContent).toBe("50");
    act(() => {
      store.dispatch(prefsChanged({ flash: false }));
    });
    vi.spyOn(performance, "now").mockReturnValue(13_000);
    tick(5, 101);
    expect(cell().textContent).toBe("101.00");
    expect(cell().querySelector(".fx")).toBeNull();
  });

  it("says why an IV is missing in the cell's title", () => {
    const store = makeStore();
    store.dispatch(expirySelected("2026-12-01"));
    const snap = snapshot(1, strikes);
    snap.strikes["25500"] = { strike: 25500, iv: null, CE: leg(510, 10, { iv: null, iv_reason: "intrinsic" }), PE: leg(1, 10) };
    store.dispatch(snapshotReceived({ snapshot: snap, source: "ws" }));
    const view = render(
      <Provider store={store}>
        <ChainTable />
      </Provider>,
    );
    const iv = view.container.querySelector<HTMLElement>('[data-strike="25500"] .iv.CE');
    expect(iv?.textContent).toBe("–");
    expect(iv?.title).toMatch(/at or below intrinsic value/);
    expect(iv?.dataset.why).toBe("intrinsic");
    expect(view.container.querySelector<HTMLElement>('[data-strike="25500"] .iv.PE')?.title).toBe("");
    // A strike without a put at all: the feed does not carry it.
    act(() => {
      store.dispatch(snapshotReceived({ snapshot: { ...snap, strikes: { ...snap.strikes, "25550": { strike: 25550, CE: leg(450, 10) } } }, source: "ws" }));
    });
    expect(view.container.querySelector<HTMLElement>('[data-strike="25550"] .iv.PE')?.title).toMatch(/does not carry/);
  });

  it("sizes every column from its content and keeps the table at least their sum wide", () => {
    const { template, minWidth } = chainLayout(["oi", "ltp", "buildup"]);
    const tracks = template.match(/minmax\([^()]*\([^()]*\)[^()]*\)|\d+px/g) ?? [];
    expect(tracks).toEqual([
      "minmax(calc(8ch + 12px), 1fr)",
      "minmax(calc(9ch + 12px), 1fr)",
      "minmax(calc(12ch + 12px), 1fr)",
      `${STRIKE_W}px`,
      "minmax(calc(12ch + 12px), 1fr)",
      "minmax(calc(9ch + 12px), 1fr)",
      "minmax(calc(8ch + 12px), 1fr)",
    ]);
    // Both sides' least widths plus the strike column: the grid can never squeeze below it.
    expect(minWidth).toBe(`calc(58ch + ${6 * 12 + STRIKE_W}px)`);
  });

  it("gives every column a width at least its label's", () => {
    for (const def of Object.values(COLUMNS)) expect(def.width).toBeGreaterThanOrEqual(def.label.length);
  });
});
