import { act, cleanup, fireEvent, render } from "@testing-library/react";
import { Provider } from "react-redux";
import { afterEach, describe, expect, it } from "vitest";
import { makeStore } from "../store";
import { expirySelected } from "../store/chainSlice";
import { marketReceived } from "../store/marketSlice";
import { viewApplied } from "../store/view";
import type { UnderlyingInfo } from "../types";
import { MarketBar } from "./Panels";
import { UnderlyingSwitcher } from "./UnderlyingSwitcher";

const NIFTY: UnderlyingInfo = { name: "NIFTY", exchange: "NSE", spot_symbol: "NIFTY 50", strike_step: 50, lot_size: 65, vix_symbol: "INDIA VIX" };
const BANKNIFTY: UnderlyingInfo = { name: "BANKNIFTY", exchange: "NSE", spot_symbol: "NIFTY BANK", strike_step: 100, lot_size: 30, vix_symbol: null };
const SENSEX: UnderlyingInfo = { name: "SENSEX", exchange: "BSE", spot_symbol: "SENSEX", strike_step: 100, lot_size: 20, vix_symbol: null };

afterEach(cleanup);

function mount(underlyings: UnderlyingInfo[]) {
  const store = makeStore();
  const view = render(
    <Provider store={store}>
      <UnderlyingSwitcher underlyings={underlyings} />
    </Provider>,
  );
  return { store, view };
}

describe("UnderlyingSwitcher", () => {
  it("is not there when the deployment follows one underlying", () => {
    const { view } = mount([NIFTY]);
    expect(view.container.querySelector("select")).toBeNull();
  });

  it("lists the configured underlyings in order and switches the view to another", () => {
    const { store, view } = mount([NIFTY, BANKNIFTY, SENSEX]);
    const select = view.getByLabelText("underlying") as HTMLSelectElement;
    expect([...select.options].map((o) => o.value)).toEqual(["NIFTY", "BANKNIFTY", "SENSEX"]);
    expect(select.value).toBe("NIFTY");
    store.dispatch(expirySelected("2026-12-29"));
    fireEvent.change(select, { target: { value: "SENSEX" } });
    expect(store.getState().ui.underlying).toBe("SENSEX");
    // SENSEX's expiries are its own: none is selected until its list arrives.
    expect(store.getState().chain.expiry).toBeNull();
    expect(select.value).toBe("SENSEX");
  });

  it("shows a linked underlying the deployment does not follow, so the select says so", () => {
    const { store, view } = mount([NIFTY, SENSEX]);
    act(() => {
      store.dispatch(viewApplied({ underlying: "FINNIFTY" }));
    });
    const select = view.getByLabelText("underlying") as HTMLSelectElement;
    expect(select.value).toBe("FINNIFTY");
    expect([...select.options].map((o) => o.value)).toEqual(["FINNIFTY", "NIFTY", "SENSEX"]);
  });
});

describe("MarketBar", () => {
  it("shows the underlying's own spot and future, and a VIX only where there is one", () => {
    const store = makeStore();
    store.dispatch(marketReceived({ instruments: {
      "NIFTY 50": { ltp: 26000 }, "INDIA VIX": { ltp: 12 }, "FUT 2026-12-29": { ltp: 26100 },
      "NIFTY BANK": { ltp: 59000 }, "BANKNIFTY FUT 2026-12-29": { ltp: 59300 },
    } }));  // prettier-ignore
    const names = (info?: UnderlyingInfo) => {
      const view = render(
        <Provider store={store}>
          <MarketBar info={info} />
        </Provider>,
      );
      const found = [...view.container.querySelectorAll(".quote")].map((q) => q.getAttribute("data-name"));
      view.unmount();
      return found;
    };
    expect(names()).toEqual(["NIFTY 50", "FUT 2026-12-29", "INDIA VIX"]);
    expect(names(NIFTY)).toEqual(["NIFTY 50", "FUT 2026-12-29", "INDIA VIX"]);
    expect(names(BANKNIFTY)).toEqual(["NIFTY BANK", "BANKNIFTY FUT 2026-12-29"]);
  });
});
