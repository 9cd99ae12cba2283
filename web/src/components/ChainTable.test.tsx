import { act, render } from "@testing-library/react";
import { Provider } from "react-redux";
import { afterEach, describe, expect, it, vi } from "vitest";
import { COLUMNS } from "../format";
import { makeStore } from "../store";
import { deltaReceived, expirySelected, snapshotReceived } from "../store/chainSlice";
import { snapshot } from "../test/fixtures";
import { ChainTable, chainLayout, ROW_H, STRIKE_W } from "./ChainTable";

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
    // Spot 26010.5: the line sits on top of 26050, the 12th row (index 11).
    const line = view.container.querySelector<HTMLElement>(".spotline");
    expect(line?.style.top).toBe(`${11 * ROW_H}px`);
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
