/**
 * Term structure (ATM IV by expiry) and the volatility surface (strike x expiry IV heat map)
 * from GET /api/analytics/surface: live (re-fetched every 15 s) or at the history minute.
 */
import { useMemo } from "react";
import type { Surface } from "../api/schema.gen";
import { historyFailure, useSurfaceQuery } from "../store/api";
import { useAppSelector } from "../hooks";
import { heatColour, surfaceStrikes } from "../tools/series";
import { Chart, type SeriesSpec } from "./Chart";

/** Strikes either side of the nearest expiry's forward the heat map spans (%). */
export const SPAN_PCT = 6;
/** The heat map's most columns (the strikes are thinned evenly beyond it). */
export const MOST_COLUMNS = 13;
// Two decimals: the expiries' ATM IVs often lie within a vol point of each other.
const fmt2 = (v: number) => v.toFixed(2);

/** The term structure: ATM IV (%) against calendar days to expiry. */
export function termSeries(surface: Surface | undefined): SeriesSpec[] {
  const data = (surface?.expiries ?? [])
    .filter((e) => e.atm_iv != null && e.days_to_expiry != null)
    .map((e) => ({ time: Math.round(e.days_to_expiry! * 100) / 100, value: e.atm_iv! * 100 }))
    .filter((p, i, all) => i === 0 || p.time > all[i - 1]!.time);
  return [{ kind: "line", color: "#f778ba", title: "ATM IV", data }];
}

export interface HeatMap {
  strikes: number[];
  rows: { expiry: string; days: number | null; cells: (number | null)[] }[];
  lo: number;
  hi: number;
}

/** The heat map's grid: a row per expiry, a column per strike, IV (%) or null where none. */
export function heatMap(surface: Surface | undefined): HeatMap | null {
  const expiries = surface?.expiries ?? [];
  const around = expiries.find((e) => e.forward != null)?.forward;
  if (!expiries.length || around == null) return null;
  const strikes = surfaceStrikes(expiries, around, SPAN_PCT, MOST_COLUMNS);
  let lo = Infinity;
  let hi = -Infinity;
  const rows = expiries.map((e) => {
    const byStrike = new Map(e.points.map((p) => [p.strike, p.iv * 100]));
    const cells = strikes.map((k) => byStrike.get(k) ?? null);
    for (const c of cells) if (c !== null) [lo, hi] = [Math.min(lo, c), Math.max(hi, c)];
    return { expiry: e.expiry, days: e.days_to_expiry ?? null, cells };
  });
  return Number.isFinite(lo) ? { strikes, rows, lo, hi } : null;
}

export function SurfaceView({ theme }: { theme: string }) {
  const underlying = useAppSelector((s) => s.ui.underlying);
  const at = useAppSelector((s) => s.ui.at);
  const { currentData, error, isFetching } = useSurfaceQuery({ underlying, at }, { pollingInterval: at ? 0 : 15_000 });
  const term = useMemo(() => termSeries(currentData), [currentData]);
  const map = useMemo(() => heatMap(currentData), [currentData]);
  const byDays = useMemo(() => new Map((currentData?.expiries ?? []).map((e) => [Math.round((e.days_to_expiry ?? NaN) * 100) / 100, e.expiry])), [currentData]);
  const xFormat = useMemo(() => (x: number) => `${byDays.get(x) ?? ""} · ${x.toFixed(1)} days`, [byDays]);
  if (error) return <p className="hint">{historyFailure(error).detail ?? "The surface could not be loaded."}</p>;
  if (!currentData) return <p className="hint">{isFetching ? "Loading the surface…" : "No surface."}</p>;
  return (
    <div className="surface">
      <Chart title="Term structure: ATM IV (%) by days to expiry" axis="price" series={term} theme={theme} height={150} format={fmt2} xFormat={xFormat} />
      <figure className="chart heat">
        <figcaption>
          Volatility surface: IV (%) by strike and expiry
          {map ? (
            <span className="legend">
              {map.lo.toFixed(1)} <i className="scale" /> {map.hi.toFixed(1)}
            </span>
          ) : null}
        </figcaption>
        {map ? (
          <div className="heat-scroll">
            <table aria-label="volatility surface">
              <thead>
                <tr>
                  <th scope="col">Expiry</th>
                  {map.strikes.map((k) => (
                    <th key={k} scope="col">
                      {k}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {map.rows.map((r) => (
                  <tr key={r.expiry}>
                    <th scope="row" title={r.days === null ? undefined : `${r.days.toFixed(1)} days to expiry`}>
                      {r.expiry.slice(5)}
                    </th>
                    {r.cells.map((iv, i) => (
                      <td
                        key={map.strikes[i]}
                        title={`${map.strikes[i]} · ${r.expiry}: ${iv === null ? "no IV" : `${iv.toFixed(2)} %`}`}
                        style={iv === null ? undefined : { background: heatColour(iv, map.lo, map.hi) }}
                      >
                        {iv === null ? "" : iv.toFixed(1)}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <p className="hint">No IVs to draw.</p>
        )}
      </figure>
    </div>
  );
}
