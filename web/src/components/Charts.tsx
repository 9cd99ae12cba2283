/** Intraday charts (spot, future, straddle, ATM IV, PCR, max pain) and by-strike charts. */
import { useMemo } from "react";
import { useAppSelector, useChartDay, useThrottled } from "../hooks";
import { useGexQuery, useIntradayQuery, type IntradayPoint } from "../store/api";
import { selectStrikeSeries, type StrikeSeries } from "../store/selectors";
import { compact } from "../format";
import { chartTime, istDate } from "../clock";
import { Chart, type Point, type SeriesSpec } from "./Chart";

/** Axis labels of whole quantities: an all-zero chart's fractional ticks read "0", not "-0". */
export const fmtCompact = (v: number) => compact(Math.abs(v) < 0.5 ? 0 : v);
/** OI is never negative: the puts drawn below the axis are labelled by their size. */
const fmtOi = (v: number) => compact(Math.abs(v));
const fmt1 = (v: number) => v.toFixed(1);
const fmt2 = (v: number) => v.toFixed(2);
const fmt0 = (v: number) => v.toFixed(0);
const crore = new Intl.NumberFormat("en-IN", { maximumFractionDigits: 1 });
/** GEX in ₹ crore (the API's GEX is in rupees per 1 % move of spot). */
export const fmtCrore = (v: number) => crore.format(v / 1e7);

const UP = "#26a69a";
const DOWN = "#ef5350";
const CALL = "#ef5350";
const PUT = "#26a69a";

function series(points: IntradayPoint[], pick: (p: IntradayPoint) => number | null | undefined): Point[] {
  const out: Point[] = [];
  let last = -Infinity;
  for (const p of points) {
    const v = pick(p);
    const t = chartTime(p.minute);
    if (typeof v !== "number" || !Number.isFinite(t) || t <= last) continue;
    out.push({ time: t, value: v });
    last = t;
  }
  return out;
}

/**
 * A new list of the minutes up to and including `at` (history mode: nothing after the chosen
 * minute), all of them when live; never the query's own (frozen) array.
 */
export function untilMinute(points: readonly IntradayPoint[], at: string | null): IntradayPoint[] {
  const end = at ? Math.floor(Date.parse(at) / 60_000) * 60_000 : NaN;
  return Number.isFinite(end) ? points.filter((p) => Date.parse(p.minute) <= end) : [...points];
}

/** The chart x of history mode's minute (marked on every time chart), or null when live. */
export function historyMarker(at: string | null): number | null {
  const marker = at ? chartTime(Math.floor(Date.parse(at) / 60_000) * 60_000) : null;
  return marker !== null && Number.isFinite(marker) ? marker : null;
}

/** The GEX chart's title with the API's total (₹ crore) and flip strike, when known. */
export function gexTitle(gex: { total: number; flip?: number | null } | undefined): string {
  const base = "GEX, ₹ Cr per 1 % move";
  if (!gex) return base;
  const flip = gex.flip == null ? "no flip" : `flip ${gex.flip}`;
  return `${base} · total ${fmtCrore(gex.total)} · ${flip}`;
}

/** A histogram's bar where a strike has no value: zero and invisible (the tooltip skips it). */
export const NO_BAR = "transparent";

/**
 * One point per visible strike in every strike chart, so the four charts share one strike
 * axis: where a series has no value, a whitespace point for a line and an invisible zero bar
 * for a histogram (lightweight-charts' options chart misplaced histograms with whitespace in
 * them, and one without any value lost its axis).
 */
export function strikePoints(
  rows: readonly StrikeSeries[],
  pick: (r: StrikeSeries) => number | null,
  kind: SeriesSpec["kind"],
  color?: (v: number) => string,
): Point[] {
  return rows.map((r) => {
    const v = pick(r);
    if (v === null) return kind === "line" ? { time: r.strike } : { time: r.strike, value: 0, color: NO_BAR };
    return { time: r.strike, value: v, ...(color ? { color: color(v) } : {}) };
  });
}

export function IntradayCharts({ expiry, theme }: { expiry: string; theme: string }) {
  const at = useAppSelector((s) => s.ui.at);
  const date = useChartDay();
  const underlying = useAppSelector((s) => s.ui.underlying);
  const { data } = useIntradayQuery(
    { expiry, underlying, ...(date ? { date } : {}) },
    { pollingInterval: at ? 0 : 60_000 },
  );
  const meta = useAppSelector((s) => s.chain.meta);
  const live = useThrottled(meta, 5_000);
  const points = useMemo(() => {
    const list = untilMinute(data ?? [], at);
    // The live chain extends the archived minutes up to its own market time `ts` (the
    // exchange's timestamp, never the browser's clock).
    if (live && !at && typeof live.ts === "number" && (!date || istDate(live.ts * 1000) === date)) {
      const minute = new Date(Math.floor(live.ts / 60) * 60_000).toISOString();
      const a = live.aggregates ?? {};
      const lastMinute = list.length ? list[list.length - 1]!.minute : "";
      if (Date.parse(minute) > Date.parse(lastMinute || "1970-01-01T00:00:00Z")) {
        list.push({
          minute,
          spot: live.spot ?? null,
          future: live.future ?? null,
          pcr_oi: a.pcr_oi ?? null,
          max_pain: a.max_pain ?? null,
          atm_iv: a.atm_iv ?? null,
          straddle: a.atm_straddle ?? null,
        });
      }
    }
    return list;
  }, [data, live, at, date]);
  const specs = useMemo(() => {
    const straddle = (p: IntradayPoint) => p.straddle ?? p.atm_straddle;
    return {
      price: [
        { kind: "line", color: "#58a6ff", title: "Spot", data: series(points, (p) => p.spot) },
        { kind: "line", color: "#d29922", title: "Future", data: series(points, (p) => p.future) },
      ] as SeriesSpec[],
      straddle: [{ kind: "line", color: "#bc8cff", data: series(points, straddle) }] as SeriesSpec[],
      iv: [
        { kind: "line", color: "#f778ba", data: series(points, (p) => (p.atm_iv == null ? null : p.atm_iv * 100)) },
      ] as SeriesSpec[],
      pcr: [{ kind: "line", color: UP, data: series(points, (p) => p.pcr_oi) }] as SeriesSpec[],
      maxPain: [
        { kind: "line", color: "#d29922", title: "Max pain", data: series(points, (p) => p.max_pain) },
        { kind: "line", color: "#58a6ff", title: "Spot", data: series(points, (p) => p.spot) },
      ] as SeriesSpec[],
    };
  }, [points]);
  // History mode: every chart ends at the chosen minute and marks it.
  const mark = historyMarker(at);
  return (
    <>
      <Chart title="Spot and future (₹)" axis="time" series={specs.price} theme={theme} format={fmt0} marker={mark} />
      <Chart title="ATM straddle (₹)" axis="time" series={specs.straddle} theme={theme} height={110} format={fmt0} delayMs={400} marker={mark} />
      <Chart title="ATM IV (%)" axis="time" series={specs.iv} theme={theme} height={110} format={fmt1} delayMs={800} marker={mark} />
      <Chart title="PCR (OI)" axis="time" series={specs.pcr} theme={theme} height={110} format={fmt2} delayMs={1200} marker={mark} />
      <Chart title="Max pain (strike)" axis="time" series={specs.maxPain} theme={theme} height={110} format={fmt0} delayMs={1600} marker={mark} />
    </>
  );
}

export function StrikeCharts({ theme }: { theme: string }) {
  const rows = useThrottled(useAppSelector(selectStrikeSeries), 1_000);
  const underlying = useAppSelector((s) => s.ui.underlying);
  const expiry = useAppSelector((s) => s.chain.expiry);
  const at = useAppSelector((s) => s.ui.at);
  // The API's total and flip (one implementation, chain/analytics.py): of the live chain,
  // polled, or of the minute history mode (and its replay) shows.
  const { currentData: gex } = useGexQuery(
    { underlying, expiry: expiry ?? "", at },
    { skip: !expiry, pollingInterval: at === null ? 10_000 : 0 },
  );
  const gexNow = gex && gex.expiry === expiry ? gex : undefined;
  const specs = useMemo(() => {
    const bars = (f: (r: StrikeSeries) => number | null, color?: (v: number) => string) => strikePoints(rows, f, "histogram", color);
    const line = (f: (r: StrikeSeries) => number | null) => strikePoints(rows, f, "line");
    const neg = (v: number | null) => (v === null ? null : -v);
    const pct = (v: number | null) => (v === null ? null : v * 100);
    return {
      oi: [
        { kind: "histogram", color: CALL, title: "Call OI", data: bars((r) => r.callOi) },
        { kind: "histogram", color: PUT, title: "Put OI", sign: -1, data: bars((r) => neg(r.putOi)) },
      ] as SeriesSpec[],
      oiChange: [
        { kind: "histogram", color: CALL, title: "Call", data: bars((r) => r.callOiChange) },
        { kind: "histogram", color: PUT, title: "Put", sign: -1, data: bars((r) => neg(r.putOiChange)) },
      ] as SeriesSpec[],
      // The smile last: drawn over the legs' lines.
      smile: [
        { kind: "line", color: CALL, title: "CE", data: line((r) => pct(r.callIv)) },
        { kind: "line", color: PUT, title: "PE", data: line((r) => pct(r.putIv)) },
        { kind: "line", color: "#f778ba", title: "Smile", data: line((r) => pct(r.iv)) },
      ] as SeriesSpec[],
      gex: [
        { kind: "histogram", color: UP, title: "GEX", data: bars((r) => r.gex, (v) => (v >= 0 ? UP : DOWN)) },
      ] as SeriesSpec[],
    };
  }, [rows]);
  return (
    <>
      <Chart title="OI by strike, units (puts below)" axis="price" series={specs.oi} theme={theme} format={fmtOi} delayMs={0} />
      <Chart title="Change in OI, units (puts mirrored below)" axis="price" series={specs.oiChange} theme={theme} height={120} format={fmtCompact} delayMs={250} />
      <Chart title="IV smile (%)" axis="price" series={specs.smile} theme={theme} height={120} format={fmt1} delayMs={500} />
      <Chart
        title={gexTitle(gexNow)}
        axis="price"
        series={specs.gex}
        theme={theme}
        height={120}
        format={fmtCrore}
        delayMs={750}
        marker={gexNow?.flip ?? null}
      />
    </>
  );
}
