/**
 * The history picker's minute, typed as a trader reads it: "dd-mm-yyyy HH:MM", 24-hour, in IST
 * whatever the browser's locale and zone (the browser's own picker shows neither).
 */
import { istDate, istTime } from "./clock";

const PATTERN = /^\s*(\d{1,2})-(\d{1,2})-(\d{4})\s+(\d{1,2}):(\d{2})\s*$/;

/** "25-11-2026 10:15" for an instant (ms or ISO), in IST. */
export function formatIstMinute(t: number | string): string {
  const ms = typeof t === "number" ? t : Date.parse(t);
  if (!Number.isFinite(ms)) return "";
  const [y, m, d] = istDate(ms).split("-");
  return `${d}-${m}-${y} ${istTime(ms)}`;
}

/** The IST minute typed, as ISO with the IST offset ("2026-11-25T10:15:00+05:30"); null if invalid. */
export function parseIstMinute(text: string): string | null {
  const m = PATTERN.exec(text);
  if (!m) return null;
  const [day, month, year, hour, minute] = m.slice(1).map(Number) as [number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59) return null;
  // The last day of the month, from the calendar (UTC: no zone can shift a date here).
  if (day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return null;
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${year}-${pad(month)}-${pad(day)}T${pad(hour)}:${pad(minute)}:00+05:30`;
}

/** The typed minute moved by `minutes` (text in, text out); unchanged when it does not parse. */
export function stepIstMinute(text: string, minutes: number, max?: number): string {
  const iso = parseIstMinute(text);
  if (!iso) return text;
  let ms = Date.parse(iso) + minutes * 60_000;
  if (max !== undefined) ms = Math.min(ms, Math.floor(max / 60_000) * 60_000);
  return formatIstMinute(ms);
}
