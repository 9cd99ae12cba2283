/**
 * OI of chosen strikes through the day: one line per strike (its call's OI, its put's, or both
 * added), from the archive's minutes (GET /api/history/contract) extended by the live chain.
 */
import { useMemo } from "react";
import { compact } from "../format";
import { useAppDispatch, useAppSelector, useChartDay, useThrottled } from "../hooks";
import { istDate } from "../clock";
import { contractKey, useContractsQuery } from "../store/api";
import { selectRow, selectVisibleIds } from "../store/selectors";
import { legsChosen, MAX_WATCHED, watchToggled, type OiLegs } from "../store/toolsSlice";
import type { RootState } from "../store";
import type { Side, StrikeRow } from "../types";
import { extendLive, fieldPoints, legToken, liveMinute, sumPoints } from "../tools/series";
import { Chart, type SeriesSpec } from "./Chart";
import { historyMarker } from "./Charts";

/** One colour per watched strike (MAX_WATCHED of them), told apart on both themes. */
export const LINE_COLOURS = ["#58a6ff", "#d29922", "#f778ba", "#3fb950", "#bc8cff", "#ff7b72", "#79c0ff", "#e3b341"];
const LEGS: { value: OiLegs; label: string }[] = [
  { value: "both", label: "CE + PE" },
  { value: "CE", label: "CE" },
  { value: "PE", label: "PE" },
];
const fmtUnits = (v: number) => compact(Math.abs(v));

export const sidesOf = (legs: OiLegs): Side[] => (legs === "both" ? ["CE", "PE"] : [legs]);

/** The watched strikes' rows as the chain on screen has them (undefined: not listed). */
function selectWatchedRows(s: RootState): (StrikeRow | undefined)[] {
  return s.tools.watched.map((k) => selectRow(s, String(k)));
}

export function OiWatch({ theme }: { theme: string }) {
  const dispatch = useAppDispatch();
  const watched = useAppSelector((s) => s.tools.watched);
  const legs = useAppSelector((s) => s.tools.legs);
  const at = useAppSelector((s) => s.ui.at);
  const ids = useAppSelector(selectVisibleIds);
  // The live minute, not every tick's time: the charts redraw with the throttled row.
  const ts = useAppSelector((s) => liveMinute(s.chain.meta?.ts));
  const day = useChartDay();
  const rows = useThrottled(useAppSelector(selectWatchedRows, shallowRows), 2_000);
  // A new list each render is fine: RTK Query keys its cache by the arguments' values.
  const tokens = rows.flatMap((r) => sidesOf(legs).map((side) => legToken(r, side))).filter((t): t is number => t !== null);
  const { currentData: series } = useContractsQuery(
    { tokens, dates: day ? [day] : [] },
    { skip: !tokens.length || !day, pollingInterval: at ? 0 : 60_000 },
  );
  const specs = useMemo((): SeriesSpec[] => {
    const sameDay = typeof ts === "number" && istDate(ts * 1000) === day;
    return watched.map((k, i) => {
      // By strike: the throttled rows may still be those of the list before a pick.
      const row = rows.find((r) => r?.strike === k);
      const parts = sidesOf(legs).map((side) => {
        const token = legToken(row, side);
        const archived = token !== null && day ? (series?.[contractKey(token, day)] ?? []) : [];
        return fieldPoints(extendLive(archived, at, { leg: row?.[side], ts, sameDay }), "oi");
      });
      return { kind: "line", color: LINE_COLOURS[i % LINE_COLOURS.length]!, title: String(k), data: sumPoints(parts) };
    });
  }, [watched, rows, legs, series, at, ts, day]);
  const free = ids.filter((id) => !watched.includes(Number(id)));
  return (
    <div className="oi-watch">
      <div className="tool-bar">
        <label>
          Add strike{" "}
          <select
            value=""
            aria-label="add a strike"
            disabled={watched.length >= MAX_WATCHED}
            onChange={(e) => e.target.value && dispatch(watchToggled(Number(e.target.value)))}
          >
            <option value="">{watched.length >= MAX_WATCHED ? `${MAX_WATCHED} at most` : "…"}</option>
            {free.map((id) => (
              <option key={id} value={id}>
                {id}
              </option>
            ))}
          </select>
        </label>
        <div className="switch" role="group" aria-label="whose OI">
          {LEGS.map((l) => (
            <button key={l.value} type="button" className={legs === l.value ? "active" : ""} aria-pressed={legs === l.value} onClick={() => dispatch(legsChosen(l.value))}>
              {l.label}
            </button>
          ))}
        </div>
      </div>
      <ul className="chips" aria-label="watched strikes">
        {watched.map((k, i) => (
          <li key={k} style={{ borderColor: LINE_COLOURS[i % LINE_COLOURS.length] }}>
            {k}
            <button type="button" className="icon" aria-label={`stop watching ${k}`} onClick={() => dispatch(watchToggled(k))}>
              ×
            </button>
          </li>
        ))}
      </ul>
      {watched.length ? (
        <Chart title={`OI through the day, units (${LEGS.find((l) => l.value === legs)!.label})`} axis="time" series={specs} theme={theme} height={220} format={fmtUnits} marker={historyMarker(at)} />
      ) : (
        <p className="hint">Pick strikes above, or “Watch OI” in a strike's drill-down: one line each.</p>
      )}
    </div>
  );
}

/** Rows compared one by one: the list is new on every call, its rows are not. */
function shallowRows(a: (StrikeRow | undefined)[], b: (StrikeRow | undefined)[]): boolean {
  return a.length === b.length && a.every((r, i) => r === b[i]);
}
