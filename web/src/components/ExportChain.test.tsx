import { act, render } from "@testing-library/react";
import { Provider } from "react-redux";
import { afterEach, describe, expect, it, vi } from "vitest";
import { makeStore } from "../store";
import { expirySelected } from "../store/chainSlice";
import { timeTravel } from "../store/uiSlice";
import { ExportChain, exportChainPath } from "./ExportChain";

afterEach(() => vi.unstubAllGlobals());

describe("chain CSV export", () => {
  it("asks for the view's expiry, minute (IST) and convention", () => {
    expect(exportChainPath({ expiry: "2026-12-01", underlying: "NIFTY", at: "2026-11-25T04:46:00Z", convention: "nse" })).toBe(
      "/api/export/chain.csv?expiry=2026-12-01&underlying=NIFTY&convention=nse&at=2026-11-25T10%3A16",
    );
    expect(exportChainPath({ expiry: "2026-12-01", underlying: "NIFTY", at: null, convention: "forward" })).toBe(
      "/api/export/chain.csv?expiry=2026-12-01&underlying=NIFTY&convention=forward",
    );
  });

  it("downloads the answer under the API's file name; a refusal becomes a toast", async () => {
    const asked: string[] = [];
    let status = 200;
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string) => {
        asked.push(url);
        return status === 200
          ? new Response("strike\n24000\n", { status, headers: { "content-disposition": 'attachment; filename="NIFTY-2026-12-01.csv"' } })
          : new Response(JSON.stringify({ detail: "no chain for NIFTY 2026-12-01" }), { status });
      }),
    );
    const clicked: string[] = [];
    // jsdom has no object URLs: a stand-in class for this test only
    vi.stubGlobal("URL", class extends URL {
      static override createObjectURL = () => "blob:x";
      static override revokeObjectURL = () => undefined;
    });
    const click = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push(this.download);
    });
    const store = makeStore();
    store.dispatch(expirySelected("2026-12-01"));
    store.dispatch(timeTravel("2026-11-25T10:16:00+05:30"));
    const view = render(
      <Provider store={store}>
        <ExportChain />
      </Provider>,
    );
    const button = view.getByRole("button", { name: "download chain CSV" });
    await act(async () => button.click());
    await vi.waitFor(() => expect(clicked).toEqual(["NIFTY-2026-12-01.csv"]));
    expect(asked[0]).toContain("at=2026-11-25T10%3A16");
    status = 404;
    await act(async () => button.click());
    await vi.waitFor(() => expect(store.getState().ui.toasts.at(-1)?.text).toBe("CSV export failed: no chain for NIFTY 2026-12-01"));
    click.mockRestore();
  });
});
