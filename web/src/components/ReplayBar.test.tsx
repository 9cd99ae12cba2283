import { act, cleanup, fireEvent, render, within } from "@testing-library/react";
import { Provider } from "react-redux";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { makeStore } from "../store";
import { replayStopped } from "../store/replaySlice";
import { timeTravel } from "../store/uiSlice";
import { ReplayBar } from "./ReplayBar";

const AT = "2026-11-25T10:15:00+05:30";

function mount(at: string | null) {
  const store = makeStore();
  if (at) store.dispatch(timeTravel(at));
  const view = render(
    <Provider store={store}>
      <ReplayBar />
    </Provider>,
  );
  const button = (name: string) => within(view.container).getByRole("button", { name });
  return { store, view, button };
}

// The market's now is the browser's clock here (no health answer): a fixed one.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(new Date("2026-11-25T10:17:30+05:30"));
});
afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

describe("the replay bar", () => {
  it("is there in history mode only", () => {
    expect(mount(null).view.container.querySelector(".replay")).toBeNull();
    const { view } = mount(AT);
    expect(view.container.querySelector(".replay-minute")?.textContent).toBe("Wed 25 Nov 10:15 IST");
  });

  it("plays and pauses, picks a speed and steps a minute, all buttons", () => {
    const { store, view, button } = mount(AT);
    fireEvent.click(button("play"));
    expect(store.getState().replay.playing).toBe(true);
    expect(button("pause").getAttribute("aria-pressed")).toBe("true");
    fireEvent.click(button("pause"));
    expect(store.getState().replay.playing).toBe(false);
    fireEvent.click(button("60x"));
    expect(store.getState().replay.speed).toBe(60);
    expect(button("60x").getAttribute("aria-pressed")).toBe("true");
    expect(button("1x").getAttribute("aria-pressed")).toBe("false");
    fireEvent.click(button("a minute back"));
    expect(store.getState().ui.at).toBe("2026-11-25T10:14:00+05:30");
    fireEvent.click(button("a minute forward"));
    fireEvent.click(button("a minute forward"));
    expect(store.getState().ui.at).toBe("2026-11-25T10:16:00+05:30");
    expect(view.container.querySelector(".replay-minute")?.textContent).toBe("Wed 25 Nov 10:16 IST");
    fireEvent.click(button("a minute forward"));
    expect(store.getState().ui.at).toBe("2026-11-25T10:17:00+05:30");
    expect(button("a minute forward")).toHaveProperty("disabled", true);
  });

  it("says why it stopped", () => {
    const { store, view } = mount(AT);
    act(() => {
      store.dispatch(replayStopped("session-end"));
    });
    expect(view.container.querySelector(".replay-stopped")?.textContent).toBe("Stopped at the session's end (15:30 IST).");
  });
});
