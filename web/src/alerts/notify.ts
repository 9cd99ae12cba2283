/**
 * Browser notifications of fired alerts: shown only when the user granted the permission (the
 * panel asks, on a click, as browsers require); one per alert id (`tag`), so an alert pushed
 * twice or shown by two tabs replaces itself.
 */
import type { FiredAlert } from "./types";

export type NotificationLike = {
  permission: NotificationPermission;
  requestPermission(): Promise<NotificationPermission>;
  new (title: string, options?: NotificationOptions): unknown;
};

export function notifications(): NotificationLike | null {
  return typeof Notification === "undefined" ? null : (Notification as unknown as NotificationLike);
}

/** Show `alert` as a browser notification; false when not allowed (or not supported). */
export function notifyAlert(alert: FiredAlert, api: NotificationLike | null = notifications()): boolean {
  if (!api || api.permission !== "granted") return false;
  try {
    new api(`Strikeboard alert: ${alert.underlying}`, {
      body: alert.note ? `${alert.text}\n${alert.note}` : alert.text,
      tag: `strikeboard-alert-${alert.id}`,
    });
    return true;
  } catch {
    return false; // e.g. Chrome on Android wants a service worker's showNotification: the toast stays
  }
}
