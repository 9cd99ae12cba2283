/**
 * Pure helpers of the trader tools' charts: a contract's archived minutes as chart points,
 * extended by the live chain, OI per session, and the heat map's scale.
 */
import type { ContractMinute, SurfaceExpiry } from "../api/schema.gen";
import { chartTime } from "../clock";
import type { Point } from "../components/Chart";
import type { Leg, Side, StrikeRow } from "../types";

/** The fields a contract's minute and a live leg have in common (what the tools chart). */
export type LegField = "ltp" | "iv" | "oi" | "volume";

/** A minute of one contract: the archive's, or the live chain's (`minute` ISO, UTC). */
export type Minute = Pick<ContractMinute, LegField> & { minute: string };

/** The start (Unix seconds) of the minute of a market time `ts`, or null. */
export function liveMinute(ts: number | null | undefined): number | null {
  return typeof ts === "number" && Number.isFinite(ts) ? Math.floor(ts / 60) * 60 : null;
}

/** The end (ms) of the minute `at` (history mode), or NaN when live. */
export function minuteEnd(at: string | null): number {
  return at ? Math.floor(Date.parse(at) / 60_000) * 60_000 : NaN;
}

/**
 * The archived minutes up to `at` (all of them live), extended by the live leg at its market
 * time `ts` (Unix seconds) when that minute is after the last archived one and of the same
 * IST day (`sameDay`). A new array, never the query's own.
 */
export function extendLive(
  minutes: readonly Minute[],
  at: string | null,
  live: { leg: Leg | null | undefined; ts: number | null | undefined; sameDay: boolean } | null,
): Minute[] {
  const end = minuteEnd(at);
  const list = Number.isFinite(end) ? minutes.filter((m) => Date.parse(m.minute) <= end) : [...minutes];
  if (at || !live || !live.leg || typeof live.ts !== "number" || !live.sameDay) return list;
  const minute = new Date(Math.floor(live.ts / 60) * 60_000).toISOString();
  const last = list.length ? Date.parse(list[list.length - 1]!.minute) : -Infinity;
  if (Date.parse(minute) <= last) return list;
  const { ltp = null, iv = null, oi = null, volume = null } = live.leg;
  list.push({ minute, ltp, iv, oi, volume });
  return list;
}

/** One field of a contract's minutes as time points (IST chart time), `scale` applied. */
export function fieldPoints(minutes: readonly Minute[], field: LegField, scale = 1): Point[] {
  const out: Point[] = [];
  let last = -Infinity;
  for (const m of minutes) {
    const v = m[field];
    const t = chartTime(m.minute);
    if (typeof v !== "number" || !Number.isFinite(v) || !Number.isFinite(t) || t <= last) continue;
    out.push({ time: t, value: v * scale });
    last = t;
  }
  return out;
}

/**
 * The sum of several contracts' series of one field, minute by minute (a strike's call and put
 * OI together): a minute counts only when every contract has a value in it.
 */
export function sumPoints(series: readonly Point[][]): Point[] {
  if (series.length === 1) return series[0]!;
  const maps = series.map((s) => new Map(s.map((p) => [p.time, p.value])));
  const first = series[0] ?? [];
  const out: Point[] = [];
  for (const p of first) {
    const values = maps.map((m) => m.get(p.time));
    if (values.every((v) => typeof v === "number")) {
      out.push({ time: p.time, value: values.reduce<number>((a, v) => a + (v as number), 0) });
    }
  }
  return out;
}

/** A session's closing OI of a contract: its last minute with an OI that day, else null. */
export function closingOi(minutes: readonly Minute[] | undefined): number | null {
  for (let i = (minutes?.length ?? 0) - 1; i >= 0; i--) {
    const oi = minutes![i]!.oi;
    if (typeof oi === "number" && Number.isFinite(oi)) return oi;
  }
  return null;
}

/** The chart time of a session (its close, 15:30 IST) on a day axis. */
export function sessionTime(day: string): number {
  return chartTime(`${day}T15:30:00+05:30`);
}

/** A leg's token, when the chain lists that leg. */
export function legToken(row: StrikeRow | undefined, side: Side): number | null {
  const t = row?.[side]?.token;
  return typeof t === "number" && t > 0 ? t : null;
}

/** The heat map's strikes: those within `pct` % of `around` that some expiry has an IV at,
 * thinned to at most `most` columns evenly (the ends and the middle kept). */
export function surfaceStrikes(expiries: readonly SurfaceExpiry[], around: number, pct: number, most: number): number[] {
  const lo = around * (1 - pct / 100);
  const hi = around * (1 + pct / 100);
  const all = new Set<number>();
  for (const e of expiries) for (const p of e.points) if (p.strike >= lo && p.strike <= hi) all.add(p.strike);
  const sorted = [...all].sort((a, b) => a - b);
  if (sorted.length <= most) return sorted;
  const step = Math.ceil(sorted.length / most);
  const mid = sorted.findIndex((k) => k >= around);
  // Every step-th strike counted from the one at `around`, so the ATM column is always there.
  return sorted.filter((_, i) => (((i - mid) % step) + step) % step === 0);
}

/** A cell's colour: blue (the lowest IV shown) through green and yellow to red (the highest). */
export function heatColour(iv: number, lo: number, hi: number): string {
  const f = hi > lo ? Math.min(1, Math.max(0, (iv - lo) / (hi - lo))) : 0.5;
  return `hsl(${Math.round(230 - 230 * f)} 70% 42%)`;
}
