import { describe, expect, it, vi } from "vitest";
import type { FiredAlert } from "../alerts/types";
import { notifyAlert, type NotificationLike } from "../alerts/notify";
import { makeStore } from "../store";
import { LiveClient } from "./client";

const ALERT: FiredAlert = {
  id: 41, rule_id: 3, crossing: 1, kind: "spot", underlying: "NIFTY", expiry: null, strike: null, option_type: null,
  op: "crosses_above", level: 24_600, value: 24_612.35, previous: 24_597.1,
  text: "NIFTY spot crossed above 24600 (24612.35)", note: "breakout", fired_at: "2026-11-25T10:41:12+05:30",
};

function client() {
  const store = makeStore();
  const notify = vi.fn<(a: FiredAlert) => void>();
  const live = new LiveClient({
    url: () => "ws://test/ws",
    dispatch: store.dispatch,
    fetchSnapshot: () => Promise.reject(new Error("unused")),
    fetchMarket: () => Promise.reject(new Error("unused")),
    notify,
  });
  return { store, notify, live };
}

describe("alert messages", () => {
  it("are listed, toasted and notified once per id, alone or inside a batch", () => {
    const { store, notify, live } = client();
    live.onMessage({ type: "alert", data: ALERT });
    live.onMessage({ type: "batch", messages: [{ type: "market", data: {} }, { type: "alert", data: ALERT }] });
    live.onMessage({ type: "alert", data: { ...ALERT, id: 42, crossing: 2 } });
    const s = store.getState();
    expect(s.alerts.fired.map((a) => a.id)).toEqual([42, 41]);
    expect(s.ui.toasts.map((t) => t.text)).toEqual([
      "Alert: NIFTY spot crossed above 24600 (24612.35) (breakout)",
      "Alert: NIFTY spot crossed above 24600 (24612.35) (breakout)",
    ]);
    expect(notify.mock.calls.map(([a]) => a.id)).toEqual([41, 42]);
    expect(s.alerts.unseen).toBe(2);
  });
});

describe("browser notifications", () => {
  function api(permission: NotificationPermission) {
    const shown: { title: string; options?: NotificationOptions }[] = [];
    // A constructor with the permission on it, as the browser's Notification.
    const N = Object.assign(
      function (title: string, options?: NotificationOptions) {
        shown.push({ title, options });
      },
      { permission, requestPermission: () => Promise.resolve(permission) },
    ) as unknown as NotificationLike;
    return { N, shown };
  }

  it("show an alert, tagged by its id, only when granted", () => {
    const granted = api("granted");
    expect(notifyAlert(ALERT, granted.N)).toBe(true);
    expect(granted.shown).toEqual([
      { title: "Strikeboard alert: NIFTY", options: { body: `${ALERT.text}\nbreakout`, tag: "strikeboard-alert-41" } },
    ]);
    for (const permission of ["default", "denied"] as const) {
      const other = api(permission);
      expect(notifyAlert(ALERT, other.N)).toBe(false);
      expect(other.shown).toEqual([]);
    }
    expect(notifyAlert(ALERT, null)).toBe(false);
  });
});
