/**
 * Keyboard shortcuts: one table, which the `?` overlay lists, and the handler App.tsx installs
 * on the window. Esc works from anywhere, also from inside a panel's fields; the other keys
 * wait while a text field has the focus (they are its text), but not on a checkbox or button.
 */
import type { UnknownAction } from "@reduxjs/toolkit";
import { serverNow } from "./clock";
import { expirySelected } from "./store/chainSlice";
import { themeToggled } from "./store/prefsSlice";
import { replayPaused, replayPlayed, shiftMinute } from "./store/replaySlice";
import { selectVisibleIds } from "./store/selectors";
import { strikeDrilled, toolOpened } from "./store/toolsSlice";
import { panelToggled, strikeSelected } from "./store/uiSlice";
import { viewApplied } from "./store/view";
import type { RootState } from "./store";

export const SHORTCUTS: readonly { keys: string[]; what: string }[] = [
  { keys: ["↑", "↓"], what: "select the strike above or below" },
  { keys: ["Enter"], what: "the selected strike's drill-down" },
  { keys: ["[", "]"], what: "previous or next expiry" },
  { keys: ["Space"], what: "history mode: play or pause the replay" },
  { keys: [",", "."], what: "history mode: a minute back or forward" },
  { keys: ["t"], what: "light or dark theme" },
  { keys: ["?"], what: "this list" },
  { keys: ["Esc"], what: "close the open panel (then the tools), else clear the selected strike" },
];

// Inputs whose keys are not text: shortcuts still work there.
const NOT_TEXT = new Set(["checkbox", "radio", "button", "submit", "reset", "range", "color", "file", "image"]);

/** Whether keys typed at `target` are its text (a text field, a select, editable content). */
export function isTextEntry(target: EventTarget | null): boolean {
  if (!target || typeof (target as Element).tagName !== "string") return false;
  const el = target as HTMLElement;
  if (el.isContentEditable) return true;
  if (el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
  return el.tagName === "INPUT" && !NOT_TEXT.has((el as HTMLInputElement).type);
}

/** Whether `target` is a control that Enter activates itself (a button, a link, a summary). */
function isControl(target: EventTarget | null): boolean {
  if (!target || typeof (target as Element).tagName !== "string") return false;
  const tag = (target as HTMLElement).tagName;
  return tag === "BUTTON" || tag === "A" || tag === "SUMMARY" || tag === "INPUT";
}

export interface KeyLike {
  key: string;
  target: EventTarget | null;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
}

/** The action a key asks for in state `s` (null: none, the key is left to the browser). */
export function keyAction(e: KeyLike, s: RootState, expiries: readonly string[], now: number = Date.now()): UnknownAction | null {
  if (e.key === "Escape") {
    if (s.ui.panel) return panelToggled(null);
    if (s.tools.open) return toolOpened(null);
    return s.ui.selectedStrike !== null ? strikeSelected(null) : null;
  }
  if (isTextEntry(e.target) || e.ctrlKey || e.metaKey || e.altKey) return null;
  // Enter on a button or link is that control's own.
  if (e.key === "Enter") {
    if (isControl(e.target) || s.ui.selectedStrike === null) return null;
    return strikeDrilled(s.ui.selectedStrike);
  }
  if (e.key === "ArrowUp" || e.key === "ArrowDown") {
    const ids = selectVisibleIds(s);
    if (!ids.length) return null;
    const current = s.ui.selectedStrike ?? s.chain.meta?.atm_strike ?? null;
    let i = current === null ? -1 : ids.indexOf(String(current));
    if (i < 0) i = Math.floor(ids.length / 2);
    else i = Math.min(ids.length - 1, Math.max(0, i + (e.key === "ArrowUp" ? -1 : 1)));
    return strikeSelected(Number(ids[i]));
  }
  if (e.key === "[" || e.key === "]") {
    const i = expiries.indexOf(s.chain.expiry ?? "");
    const next = expiries[Math.min(expiries.length - 1, Math.max(0, i + (e.key === "[" ? -1 : 1)))];
    return next && next !== s.chain.expiry ? expirySelected(next) : null;
  }
  const at = s.ui.at;
  if (at !== null) {
    // Space on a button is that button's press.
    if (e.key === " ") return isControl(e.target) ? null : s.replay.playing ? replayPaused() : replayPlayed();
    if (e.key === ",") return viewApplied({ at: shiftMinute(at, -1) });
    // Never past the market's now (as the bar's forward button).
    const later = shiftMinute(at, 1);
    if (e.key === ".") return Date.parse(later) <= serverNow(s.market.clockOffsetMs, now) ? viewApplied({ at: later }) : null;
  }
  if (e.key === "t") return themeToggled();
  if (e.key === "?") return panelToggled("help");
  return null;
}
