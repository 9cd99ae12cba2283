/** Intraday charts (spot, future, straddle, ATM IV, PCR, max pain) and by-strike charts. */
import { useMemo } from "react";
import { useAppSelector, useThrottled } from "../hooks";
import { useIntradayQuery, type IntradayPoint } from "../store/api";
import { selectStrikeSeries } from "../store/selectors";
import { compact } from "../format";
import { chartTime, istDate } from "../clock";
import { Chart, type Point, type SeriesSpec } from "./Chart";

const fmtCompact = (v: number) => compact(v);
const fmt1 = (v: number) => v.toFixed(1);
const fmt2 = (v: number) => v.toFixed(2);
const fmt0 = (v: number) => v.toFixed(0);

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

export function IntradayCharts({ expiry, theme }: { expiry: string; theme: string }) {
  const at = useAppSelector((s) => s.ui.at);
  // The day on screen: the travelled-to one, else the day of the chain on screen, else the
  // API's last session (on a weekend or holiday the last trading day, not today).
  // The chain's own market time says which day it is from when it has one.
  const lastSession = useAppSelector((s) => s.market.session?.last_session);
  const dataDay = useAppSelector((s) => (typeof s.chain.meta?.ts === "number" ? istDate(s.chain.meta.ts * 1000) : undefined));
  const date = at ? at.slice(0, 10) : (dataDay ?? lastSession);
  const underlying = useAppSelector((s) => s.ui.underlying);
  const { data } = useIntradayQuery(
    { expiry, underlying, ...(date ? { date } : {}) },
    { pollingInterval: at ? 0 : 60_000 },
  );
  const meta = useAppSelector((s) => s.chain.meta);
  const live = useThrottled(meta, 5_000);
  const points = useMemo(() => {
    const list = [...(data ?? [])];
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
  return (
    <>
      <Chart title="Spot and future" axis="time" series={specs.price} theme={theme} format={fmt0} />
      <Chart title="ATM straddle" axis="time" series={specs.straddle} theme={theme} height={110} format={fmt0} delayMs={400} />
      <Chart title="ATM IV (%)" axis="time" series={specs.iv} theme={theme} height={110} format={fmt1} delayMs={800} />
      <Chart title="PCR (OI)" axis="time" series={specs.pcr} theme={theme} height={110} format={fmt2} delayMs={1200} />
      <Chart title="Max pain" axis="time" series={specs.maxPain} theme={theme} height={110} format={fmt0} delayMs={1600} />
    </>
  );
}

export function StrikeCharts({ theme }: { theme: string }) {
  const rows = useThrottled(useAppSelector(selectStrikeSeries), 1_000);
  const specs = useMemo(() => {
    const pts = (f: (r: (typeof rows)[number]) => number | null, color?: (v: number) => string) =>
      rows.flatMap((r) => {
        const v = f(r);
        return v === null ? [] : [{ time: r.strike, value: v, ...(color ? { color: color(v) } : {}) }];
      });
    return {
      oi: [
        { kind: "histogram", color: CALL, title: "Call OI", data: pts((r) => r.callOi) },
        { kind: "histogram", color: PUT, title: "Put OI", data: pts((r) => (r.putOi === null ? null : -r.putOi)) },
      ] as SeriesSpec[],
      oiChange: [
        { kind: "histogram", color: CALL, title: "Call", data: pts((r) => r.callOiChange) },
        { kind: "histogram", color: PUT, title: "Put", data: pts((r) => (r.putOiChange === null ? null : -r.putOiChange)) },
      ] as SeriesSpec[],
      smile: [
        { kind: "line", color: "#f778ba", title: "Smile", data: pts((r) => (r.iv === null ? null : r.iv * 100)) },
        { kind: "line", color: CALL, title: "CE", data: pts((r) => (r.callIv === null ? null : r.callIv * 100)) },
        { kind: "line", color: PUT, title: "PE", data: pts((r) => (r.putIv === null ? null : r.putIv * 100)) },
      ] as SeriesSpec[],
      gex: [
        { kind: "histogram", color: UP, data: pts((r) => r.gex, (v) => (v >= 0 ? UP : DOWN)) },
      ] as SeriesSpec[],
    };
  }, [rows]);
  return (
    <>
      <Chart title="OI by strike (puts below)" axis="price" series={specs.oi} theme={theme} format={fmtCompact} delayMs={0} />
      <Chart title="Change in OI (puts below)" axis="price" series={specs.oiChange} theme={theme} height={120} format={fmtCompact} delayMs={250} />
      <Chart title="IV smile (%)" axis="price" series={specs.smile} theme={theme} height={120} format={fmt1} delayMs={500} />
      <Chart title="GEX by strike" axis="price" series={specs.gex} theme={theme} height={120} format={fmtCompact} delayMs={750} />
    </>
  );
}
