/**
 * The market's clock. The SPA never trusts the browser's date or time zone for market time:
 * "now" is the API's `now` (GET /api/health) plus the local time elapsed since, and every day
 * and time shown is formatted in Asia/Kolkata explicitly.
 */
import type { Session, SnapshotMeta } from "./types";

export const IST = "Asia/Kolkata";
export const DAY_MS = 86_400_000;

/** Server time minus local time (ms) from one health answer, received at local `receivedAt`. */
export function clockOffset(serverNow: string | undefined, receivedAt: number): number | null {
  if (!serverNow) return null;
  const t = Date.parse(serverNow);
  return Number.isFinite(t) ? t - receivedAt : null;
}

/** The server's "now" (ms) given the offset; the local clock until the first health answer. */
export function serverNow(offset: number | null, local: number = Date.now()): number {
  return local + (offset ?? 0);
}

/** The close of an expiry day, 15:30 IST, as epoch ms. */
export function expiryCloseMs(expiry: string): number {
  return Date.parse(`${expiry}T15:30:00+05:30`);
}

/**
 * The instant the snapshot on screen was valued at (ms), from its own days to expiry: the
 * header's DTE and every tab's are counted from it. Null when the snapshot cannot tell.
 */
export function valuationMs(meta: Pick<SnapshotMeta, "expiry" | "days_to_expiry"> | null | undefined): number | null {
  if (!meta?.expiry || typeof meta.days_to_expiry !== "number" || !(meta.days_to_expiry > 0)) return null;
  const close = expiryCloseMs(meta.expiry);
  return Number.isFinite(close) ? close - meta.days_to_expiry * DAY_MS : null;
}

/**
 * Days to `expiry` as shown on its tab: the snapshot's own figure for its expiry (the header's),
 * for the others the same valuation instant; without a snapshot the server's clock (`nowMs`,
 * null before the first health answer) and before that the API's expiry list (`listed`, its
 * count at the API's clock). Never the browser's clock. Null when nothing tells.
 */
export function tabDaysToExpiry(
  expiry: string,
  meta: Pick<SnapshotMeta, "expiry" | "days_to_expiry"> | null | undefined,
  nowMs: number | null,
  listed?: number | null,
): number | null {
  if (meta?.expiry === expiry && typeof meta.days_to_expiry === "number") return meta.days_to_expiry;
  const ref = valuationMs(meta) ?? nowMs;
  if (ref === null) return typeof listed === "number" ? listed : null;
  return Math.max(0, (expiryCloseMs(expiry) - ref) / DAY_MS);
}

const IST_OFFSET_S = 5.5 * 3600;

/**
 * A chart's time for an instant (ms or ISO): lightweight-charts prints its times as UTC, so the
 * instant is shifted by IST's offset and its axis, crosshair and labels read the market's clock.
 */
export function chartTime(t: number | string): number {
  const ms = typeof t === "number" ? t : Date.parse(t);
  return Math.floor(ms / 1000) + IST_OFFSET_S;
}

/** Days to expiry as both the header and the tabs print it. */
export function formatDte(d: number | null | undefined): string {
  return d === null || d === undefined || !Number.isFinite(d) ? "–" : d.toFixed(2);
}

// Numeric month, named here: ICU versions disagree on "Sep" and "Sept".
const dayParts = new Intl.DateTimeFormat("en-GB", { timeZone: IST, weekday: "short", day: "numeric", month: "numeric" });
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const timeParts = new Intl.DateTimeFormat("en-GB", { timeZone: IST, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });

function part(parts: Intl.DateTimeFormatPart[], type: Intl.DateTimeFormatPartTypes): string {
  return parts.find((p) => p.type === type)?.value ?? "";
}

/** "Wed 25 Nov" for an instant (ms or ISO), in IST. */
export function istDay(t: number | string): string {
  const p = dayParts.formatToParts(typeof t === "number" ? t : Date.parse(t));
  // Number(): some ICU versions pad the day ("03") next to a numeric month.
  return `${part(p, "weekday")} ${Number(part(p, "day"))} ${MONTHS[Number(part(p, "month")) - 1] ?? ""}`;
}

/** "15:30" for an instant (ms or ISO), in IST. */
export function istTime(t: number | string): string {
  const p = timeParts.formatToParts(typeof t === "number" ? t : Date.parse(t));
  return `${part(p, "hour")}:${part(p, "minute")}`;
}

/** "Wed 25 Nov" for a calendar day "YYYY-MM-DD" (noon IST: the same day in any zone's reading). */
export function sessionDay(day: string): string {
  return istDay(`${day}T12:00:00+05:30`);
}

/** "Sunday", "NSE holiday": the API's reason without its date ("2026-11-29 is a Sunday"). */
export function closedLabel(reason: string | null): string | null {
  if (!reason) return null;
  return reason.replace(/^\d{4}-\d{2}-\d{2} is (an? )?/i, "").trim() || null;
}

/** The session banner's text, or null while the market is open. */
export function sessionText(session: Session | null | undefined): string | null {
  if (!session || session.state === "open") return null;
  const next = `${istDay(session.next_open)} ${istTime(session.next_open)} IST`;
  if (session.state === "closed") {
    return (
      `Market closed · showing the session of ${sessionDay(session.last_session)}, ` +
      `closed ${istTime(session.last_close)} IST · opens ${next}`
    );
  }
  const why = closedLabel(session.reason ?? null);
  return (
    `Market closed${why ? ` (${why})` : ""} · showing the last session, ` +
    `${sessionDay(session.last_session)} · next open ${next}`
  );
}

const isoDay = new Intl.DateTimeFormat("en-CA", { timeZone: IST, year: "numeric", month: "2-digit", day: "2-digit" });

/** The IST calendar day "YYYY-MM-DD" of an instant (ms). */
export function istDate(ms: number): string {
  return isoDay.format(ms);
}
