/**
 * A strike's drill-down: its call's and put's LTP, IV, OI and volume through the day (the
 * archive's minutes, GET /api/history/contract, extended by the live chain) and their closing
 * OI over the last sessions.
 */
import { useMemo } from "react";
import type { ContractMinute } from "../api/schema.gen";
import { compact } from "../format";
import { useAppDispatch, useAppSelector, useChartDay, useThrottled } from "../hooks";
import { contractKey, useContractsQuery, useDailyQuery } from "../store/api";
import { selectRow } from "../store/selectors";
import { watchToggled } from "../store/toolsSlice";
import { istDate } from "../clock";
import type { Side } from "../types";
import { closingOi, extendLive, liveMinute, fieldPoints, legToken, sessionTime, type LegField, type Minute } from "../tools/series";
import { Chart, type Point, type SeriesSpec } from "./Chart";
import { historyMarker } from "./Charts";

const CALL = "#ef5350";
const PUT = "#26a69a";
/** Previous sessions whose closing OI the drill-down shows (with the day on screen). */
export const SESSIONS = 5;
const NONE: ContractMinute[] = [];

const fmt1 = (v: number) => v.toFixed(1);
const fmt2 = (v: number) => v.toFixed(2);
const fmtUnits = (v: number) => compact(Math.abs(v));
const dayLabel = (x: number) => new Date(x * 1000).toISOString().slice(0, 10);

/** The sessions before `day` (and `day`) among the days the API has statistics of, oldest first. */
export function lastSessions(days: readonly string[], day: string | undefined, count: number): string[] {
  const before = [...new Set(days)].filter((d) => !day || d < day).sort();
  return [...before.slice(-count), ...(day ? [day] : [])];
}

/** The closing OI of each session for the call (above the axis) and the put (mirrored below). */
export function sessionSeries(
  sessions: readonly string[],
  series: Record<string, ContractMinute[]> | undefined,
  tokens: Record<Side, number | null>,
  today: { day: string | undefined; CE: number | null; PE: number | null },
): SeriesSpec[] {
  const bars = (side: Side, sign: 1 | -1): Point[] =>
    sessions.map((d) => {
      const token = tokens[side];
      // The day on screen: its latest OI (live, or at the history minute).
      const oi = d === today.day ? today[side] : token === null ? null : closingOi(series?.[contractKey(token, d)]);
      return oi === null ? { time: sessionTime(d), value: 0, color: "transparent" } : { time: sessionTime(d), value: sign * oi };
    });
  return [
    { kind: "histogram", color: CALL, title: "CE", data: bars("CE", 1) },
    { kind: "histogram", color: PUT, title: "PE", sign: -1, data: bars("PE", -1) },
  ];
}

export function DrillDown({ strike, theme }: { strike: number; theme: string }) {
  const dispatch = useAppDispatch();
  const underlying = useAppSelector((s) => s.ui.underlying);
  const expiry = useAppSelector((s) => s.chain.expiry);
  const at = useAppSelector((s) => s.ui.at);
  const watched = useAppSelector((s) => s.tools.watched.includes(strike));
  const day = useChartDay();
  const liveRow = useThrottled(useAppSelector((s) => selectRow(s, String(strike))), 2_000);
  // The live minute, not every tick's time: the charts redraw with the throttled row.
  const ts = useAppSelector((s) => liveMinute(s.chain.meta?.ts));
  const ce = legToken(liveRow, "CE");
  const pe = legToken(liveRow, "PE");
  const tokens = useMemo(() => ({ CE: ce, PE: pe }), [ce, pe]);
  const list = useMemo(() => [ce, pe].filter((t): t is number => t !== null), [ce, pe]);
  const { currentData: intraday, isError } = useContractsQuery(
    { tokens: list, dates: day ? [day] : [] },
    { skip: !list.length || !day, pollingInterval: at ? 0 : 60_000 },
  );
  const { currentData: daily } = useDailyQuery({ underlying, days: 30 });
  const sessions = useMemo(() => lastSessions((daily ?? []).map((d) => d.day), day, SESSIONS), [daily, day]);
  const previous = sessions.filter((d) => d !== day);
  const { currentData: past } = useContractsQuery(
    { tokens: list, dates: previous },
    { skip: !list.length || !previous.length },
  );

  const minutes = useMemo(() => {
    const of = (side: Side): Minute[] => {
      const token = tokens[side];
      const archived = token !== null && day ? (intraday?.[contractKey(token, day)] ?? NONE) : NONE;
      const sameDay = typeof ts === "number" && istDate(ts * 1000) === day;
      return extendLive(archived, at, { leg: liveRow?.[side], ts, sameDay });
    };
    return { CE: of("CE"), PE: of("PE") };
  }, [tokens, intraday, liveRow, ts, at, day]);

  const specs = useMemo(() => {
    const pair = (field: LegField, scale = 1): SeriesSpec[] => [
      { kind: "line", color: CALL, title: "CE", data: fieldPoints(minutes.CE, field, scale) },
      { kind: "line", color: PUT, title: "PE", data: fieldPoints(minutes.PE, field, scale) },
    ];
    return {
      ltp: pair("ltp"),
      iv: pair("iv", 100),
      oi: pair("oi"),
      volume: pair("volume"),
      sessions: sessionSeries(sessions, past, tokens, { day, CE: closingOi(minutes.CE), PE: closingOi(minutes.PE) }),
    };
  }, [minutes, sessions, past, tokens, day]);

  const mark = historyMarker(at);
  const label = `${underlying} ${expiry ?? ""} ${strike}`;
  if (!liveRow) return <p className="hint">Strike {strike} is not in the chain on screen.</p>;
  return (
    <div className="drill" aria-label={`drill-down ${label}`}>
      <div className="tool-bar">
        <b>{label}</b>
        <span className="hint">{day ? `${day}${at ? ` up to ${at.slice(11, 16)} IST` : ""}` : ""}</span>
        <button type="button" aria-pressed={watched} onClick={() => dispatch(watchToggled(strike))}>
          {watched ? "Watched in OI" : "Watch OI"}
        </button>
      </div>
      {isError ? <p className="hint">The archive did not answer; the live values alone are drawn.</p> : null}
      <Chart title="LTP (₹)" axis="time" series={specs.ltp} theme={theme} height={120} format={fmt2} marker={mark} />
      <Chart title="IV (%)" axis="time" series={specs.iv} theme={theme} height={110} format={fmt1} delayMs={250} marker={mark} />
      <Chart title="OI (units)" axis="time" series={specs.oi} theme={theme} height={110} format={fmtUnits} delayMs={500} marker={mark} />
      <Chart title="Volume (units traded in the day)" axis="time" series={specs.volume} theme={theme} height={110} format={fmtUnits} delayMs={750} marker={mark} />
      <Chart
        title="OI at each session's close (puts below)"
        axis="time"
        series={specs.sessions}
        theme={theme}
        height={110}
        format={fmtUnits}
        delayMs={1000}
        xFormat={dayLabel}
      />
    </div>
  );
}
