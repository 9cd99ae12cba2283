import { describe, expect, it } from "vitest";
import { isTextEntry, keyAction, SHORTCUTS, type KeyLike } from "./keys";
import { makeStore } from "./store";
import { expirySelected, snapshotReceived } from "./store/chainSlice";
import { replayPaused, replayPlayed } from "./store/replaySlice";
import { strikeDrilled, toolOpened } from "./store/toolsSlice";
import { panelToggled, strikeSelected } from "./store/uiSlice";
import { viewApplied } from "./store/view";
import { snapshot } from "./test/fixtures";

function input(type: string): HTMLInputElement {
  const el = document.createElement("input");
  el.type = type;
  return el;
}

const press = (key: string, target: EventTarget | null = document.body): KeyLike => ({
  key,
  target,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
});

function loaded() {
  const store = makeStore();
  store.dispatch(expirySelected("2026-12-01"));
  store.dispatch(snapshotReceived({ snapshot: snapshot(1), source: "ws" }));
  return store;
}

const EXPIRIES = ["2026-12-01", "2026-12-08"];

describe("keyboard shortcuts", () => {
  it("Esc closes the open panel from anywhere, also from a text field inside it", () => {
    const store = loaded();
    store.dispatch(panelToggled("settings"));
    for (const target of [input("number"), input("checkbox"), document.createElement("select"), document.body]) {
      const action = keyAction(press("Escape", target), store.getState(), EXPIRIES);
      expect(action).toEqual(panelToggled(null));
    }
    store.dispatch(panelToggled(null));
    store.dispatch(strikeSelected(26000));
    expect(keyAction(press("Escape"), store.getState(), EXPIRIES)).toEqual(strikeSelected(null));
    store.dispatch(strikeSelected(null));
    expect(keyAction(press("Escape"), store.getState(), EXPIRIES)).toBeNull();
  });

  it("? opens the list and t the theme, also from a checkbox, but not while typing", () => {
    const store = loaded();
    expect(keyAction(press("?"), store.getState(), EXPIRIES)?.type).toBe("ui/panelToggled");
    expect(keyAction(press("t", input("checkbox")), store.getState(), EXPIRIES)?.type).toBe("prefs/themeToggled");
    for (const typing of [input("text"), input("number"), input("datetime-local"), document.createElement("textarea")]) {
      expect(keyAction(press("t", typing), store.getState(), EXPIRIES)).toBeNull();
      expect(keyAction(press("?", typing), store.getState(), EXPIRIES)).toBeNull();
    }
    expect(keyAction({ ...press("t"), ctrlKey: true }, store.getState(), EXPIRIES)).toBeNull();
  });

  it("arrows walk the strikes from the ATM, brackets the expiries", () => {
    const store = loaded();
    expect(keyAction(press("ArrowUp"), store.getState(), EXPIRIES)).toEqual(strikeSelected(25950));
    store.dispatch(strikeSelected(26100));
    expect(keyAction(press("ArrowDown"), store.getState(), EXPIRIES)).toEqual(strikeSelected(26100)); // the last
    expect(keyAction(press("]"), store.getState(), EXPIRIES)).toEqual(expirySelected("2026-12-08"));
    expect(keyAction(press("["), store.getState(), EXPIRIES)).toBeNull(); // already the first
  });

  it("Enter opens the selected strike's drill-down, unless a control has the focus; Esc closes the tools", () => {
    const store = loaded();
    expect(keyAction(press("Enter"), store.getState(), EXPIRIES)).toBeNull(); // nothing selected
    store.dispatch(strikeSelected(26050));
    expect(keyAction(press("Enter"), store.getState(), EXPIRIES)).toEqual(strikeDrilled(26050));
    for (const control of [document.createElement("button"), document.createElement("a"), input("checkbox"), input("text")]) {
      expect(keyAction(press("Enter", control), store.getState(), EXPIRIES)).toBeNull();
    }
    store.dispatch(strikeDrilled(26050));
    store.dispatch(panelToggled("help"));
    expect(keyAction(press("Escape"), store.getState(), EXPIRIES)).toEqual(panelToggled(null)); // the panel first
    store.dispatch(panelToggled(null));
    expect(keyAction(press("Escape"), store.getState(), EXPIRIES)).toEqual(toolOpened(null));
    store.dispatch(toolOpened(null));
    expect(keyAction(press("Escape"), store.getState(), EXPIRIES)).toEqual(strikeSelected(null));
  });

  it("in history mode Space plays or pauses the replay and , . step a minute, never past the market's now", () => {
    const store = loaded();
    const now = Date.parse("2026-11-25T10:01:30+05:30"); // the market's clock (no offset told: local)
    expect(keyAction(press(" "), store.getState(), EXPIRIES, now)).toBeNull(); // live: nothing to play
    expect(keyAction(press(","), store.getState(), EXPIRIES, now)).toBeNull();
    store.dispatch(viewApplied({ at: "2026-11-25T10:00:00+05:30" }));
    expect(keyAction(press(" "), store.getState(), EXPIRIES, now)).toEqual(replayPlayed());
    expect(keyAction(press(" ", document.createElement("button")), store.getState(), EXPIRIES, now)).toBeNull();
    expect(keyAction(press(" ", input("text")), store.getState(), EXPIRIES, now)).toBeNull();
    store.dispatch(replayPlayed());
    expect(keyAction(press(" "), store.getState(), EXPIRIES, now)).toEqual(replayPaused());
    expect(keyAction(press(","), store.getState(), EXPIRIES, now)).toEqual(viewApplied({ at: "2026-11-25T09:59:00+05:30" }));
    expect(keyAction(press("."), store.getState(), EXPIRIES, now)).toEqual(viewApplied({ at: "2026-11-25T10:01:00+05:30" }));
    store.dispatch(viewApplied({ at: "2026-11-25T10:01:00+05:30" }));
    expect(keyAction(press("."), store.getState(), EXPIRIES, now)).toBeNull(); // 10:02 is still to come
  });

  it("lists every key it handles", () => {
    const listed = SHORTCUTS.flatMap((s) => s.keys);
    expect(listed).toEqual(expect.arrayContaining(["↑", "↓", "Enter", "[", "]", "Space", ",", ".", "t", "?", "Esc"]));
    expect(isTextEntry(null)).toBe(false);
  });
});
