/**
 * The strategy builder: legs picked from the chain (StrategyPick), their lots and entry
 * prices, the payoff chart at expiry and at a chosen date with spot range and IV shift, the
 * figures, saving to the preferences and a share link. Every number comes from
 * POST /api/strategy/payoff (the one pricing implementation); this panel only draws it.
 */
import { skipToken } from "@reduxjs/toolkit/query/react";
import { useMemo, useState } from "react";
import { useAppDispatch, useAppSelector } from "../hooks";
import { prefsChanged } from "../store/prefsSlice";
import {
  builderToggled,
  controlsChanged,
  legChanged,
  legRemoved,
  legReady,
  legsCleared,
  nameChanged,
  strategyLoaded,
  type StrategyState,
} from "../store/strategySlice";
import { useStrategyPayoffQuery } from "../store/strategyApi";
import { encodeStrategy, withSaved } from "../strategy/codec";
import { ENTRIES, type Entry, type StrategyRequest } from "../strategy/types";
import { StrategyChart } from "./StrategyChart";
import { StrategyFigures } from "./StrategyFigures";
import "./Strategy.css";

const POINTS = 201;
const RANGES = [2, 5, 10, 20];
const LIVE_REFRESH_MS = 5_000;

/** The API's request for the builder's state (null until every leg is complete). */
export function payoffRequest(s: StrategyState): StrategyRequest | null {
  if (!s.legs.length || !s.legs.every(legReady)) return null;
  return {
    underlying: s.underlying,
    legs: s.legs.map((l) => ({ ...l, price: l.entry === "typed" ? l.price : null })),
    range_pct: s.controls.rangePct,
    points: POINTS,
    iv_shift: s.controls.ivShift,
    target: s.controls.targetDay ? `${s.controls.targetDay}T15:30:00` : null,
  };
}

/** Calendar days strictly between `from` and `to` (YYYY-MM-DD, IST dates). */
export function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  const end = Date.parse(`${to}T00:00:00Z`);
  for (let t = Date.parse(`${from}T00:00:00Z`) + 86_400_000; t < end && out.length < 400; t += 86_400_000) {
    out.push(new Date(t).toISOString().slice(0, 10));
  }
  return out;
}

/** The share link of a strategy: the page with `?underlying=&strategy=` (strategy/codec.ts). */
export function shareLink(origin: string, path: string, s: Pick<StrategyState, "underlying" | "legs">): string {
  const params = new URLSearchParams({ underlying: s.underlying, strategy: encodeStrategy(s.underlying, s.legs) });
  return `${origin}${path}?${params.toString()}`;
}

function problem(error: unknown): string {
  const data = error && typeof error === "object" && "data" in error ? (error as { data: unknown }).data : null;
  if (data && typeof data === "object" && typeof (data as { detail?: unknown }).detail === "string") {
    return (data as { detail: string }).detail;
  }
  const status = error && typeof error === "object" && "status" in error ? String((error as { status: unknown }).status) : "";
  return `the strategy could not be priced${status ? ` (${status})` : ""}`;
}

function Legs({ s }: { s: StrategyState }) {
  const dispatch = useAppDispatch();
  return (
    <table className="strategy-legs">
      <thead>
        <tr>
          <th>Side</th>
          <th>Contract</th>
          <th>Lots</th>
          <th>Entry</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {s.legs.map((leg, i) => (
          <tr key={`${leg.expiry}-${leg.strike}-${leg.option_type}-${i}`} data-leg={i}>
            <td>
              <button
                type="button"
                className={`side ${leg.side}`}
                title="Buy or sell"
                onClick={() => dispatch(legChanged({ index: i, patch: { side: leg.side === "buy" ? "sell" : "buy" } }))}
              >
                {leg.side === "buy" ? "B" : "S"}
              </button>
            </td>
            <td className="contract">
              {leg.strike} {leg.option_type} <small>{leg.expiry.slice(5)}</small>
            </td>
            <td>
              <input
                type="number"
                min={1}
                max={10000}
                value={leg.lots}
                aria-label="lots"
                onChange={(e) => dispatch(legChanged({ index: i, patch: { lots: Number(e.target.value) } }))}
              />
            </td>
            <td className="entry">
              <select
                value={leg.entry}
                aria-label="entry price"
                onChange={(e) => dispatch(legChanged({ index: i, patch: { entry: e.target.value as Entry } }))}
              >
                {ENTRIES.map((x) => (
                  <option key={x} value={x}>{x}</option>
                ))}
              </select>
              {leg.entry === "typed" ? (
                <input
                  type="number"
                  min={0.05}
                  step={0.05}
                  value={leg.price ?? ""}
                  aria-label="typed price"
                  onChange={(e) => dispatch(legChanged({ index: i, patch: { price: e.target.value === "" ? null : Number(e.target.value) } }))}
                />
              ) : null}
            </td>
            <td>
              <button type="button" className="remove" title="Remove the leg" aria-label="remove leg" onClick={() => dispatch(legRemoved(i))}>
                ×
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function SaveLoad({ s }: { s: StrategyState }) {
  const dispatch = useAppDispatch();
  const saved = useAppSelector((st) => st.prefs.strategies);
  const [link, setLink] = useState<string | null>(null);
  const name = s.name.trim();
  const save = () => {
    if (!name || !s.legs.length) return;
    dispatch(prefsChanged({ strategies: withSaved(saved, { name, underlying: s.underlying, legs: s.legs }) }));
  };
  const share = () => {
    const url = shareLink(window.location.origin, window.location.pathname, s);
    setLink(url);
    void navigator.clipboard?.writeText(url).catch(() => undefined);
  };
  return (
    <div className="strategy-save">
      <input
        type="text"
        placeholder="Name"
        maxLength={60}
        value={s.name}
        aria-label="strategy name"
        onChange={(e) => dispatch(nameChanged(e.target.value))}
      />
      <button type="button" onClick={save} disabled={!name || !s.legs.length}>Save</button>
      <select
        value=""
        aria-label="load a saved strategy"
        onChange={(e) => {
          const found = saved.find((x) => x.name === e.target.value);
          if (found) dispatch(strategyLoaded(found));
        }}
      >
        <option value="">Load…</option>
        {saved.map((x) => (
          <option key={x.name} value={x.name}>{x.name}</option>
        ))}
      </select>
      {saved.some((x) => x.name === name) ? (
        <button type="button" onClick={() => dispatch(prefsChanged({ strategies: saved.filter((x) => x.name !== name) }))}>
          Delete
        </button>
      ) : null}
      <button type="button" onClick={share} disabled={!s.legs.length}>Share link</button>
      {link ? <input className="share" type="text" readOnly value={link} aria-label="share link" onFocus={(e) => e.target.select()} /> : null}
    </div>
  );
}

export function StrategyBuilder() {
  const dispatch = useAppDispatch();
  const s = useAppSelector((st) => st.strategy);
  const live = useAppSelector((st) => st.ui.at === null);
  const request = useMemo(() => payoffRequest(s), [s]);
  const { data, currentData, error, isFetching } = useStrategyPayoffQuery(s.open && request ? request : skipToken, {
    pollingInterval: live ? LIVE_REFRESH_MS : 0,
  });
  // The last answer stays while the next loads, but not under a refusal of the legs on screen.
  const payoff = (request && (error ? currentData : data)) ?? null;
  const days = useMemo(() => (payoff ? daysBetween(payoff.now.slice(0, 10), payoff.horizon) : []), [payoff]);

  if (!s.open) {
    return (
      <button type="button" className="strategy-tab" onClick={() => dispatch(builderToggled(true))} aria-label="strategy builder">
        Strategy{s.legs.length ? ` (${s.legs.length})` : ""}
      </button>
    );
  }
  const c = s.controls;
  const targetLabel = c.targetDay ? `on ${c.targetDay}` : "now";
  return (
    <section className="strategy panel" aria-label="strategy builder" data-busy={isFetching ? "1" : "0"}>
      <header>
        <h3>Strategy · {s.underlying}</h3>
        <button type="button" onClick={() => dispatch(legsCleared())} disabled={!s.legs.length}>Clear</button>
        <button type="button" className="icon" aria-label="close strategy builder" onClick={() => dispatch(builderToggled(false))}>
          ×
        </button>
      </header>
      {s.legs.length ? <Legs s={s} /> : <p className="hint">Add legs with the B and S buttons beside a strike in the chain.</p>}
      <div className="strategy-controls">
        <label>
          Range ±
          <select
            value={c.rangePct ?? ""}
            aria-label="spot range"
            onChange={(e) => dispatch(controlsChanged({ rangePct: e.target.value ? Number(e.target.value) : null }))}
          >
            <option value="">auto{payoff && c.rangePct === null ? ` (${payoff.range_pct}%)` : ""}</option>
            {RANGES.map((r) => (
              <option key={r} value={r}>{r}%</option>
            ))}
          </select>
        </label>
        <label>
          IV shift {c.ivShift > 0 ? "+" : ""}
          {c.ivShift} pts
          <input
            type="range"
            min={-20}
            max={20}
            step={1}
            value={c.ivShift}
            aria-label="IV shift"
            onChange={(e) => dispatch(controlsChanged({ ivShift: Number(e.target.value) }))}
          />
        </label>
        <label>
          Date
          <select
            value={c.targetDay ?? ""}
            aria-label="target date"
            onChange={(e) => dispatch(controlsChanged({ targetDay: e.target.value || null }))}
          >
            <option value="">now</option>
            {days.map((d) => (
              <option key={d} value={d}>{d}</option>
            ))}
          </select>
        </label>
      </div>
      {error && request ? <p className="strategy-error" role="alert">{problem(error)}</p> : null}
      {payoff ? (
        <>
          <StrategyChart payoff={payoff} targetLabel={targetLabel} />
          <StrategyFigures payoff={payoff} />
          <p className="strategy-legs-priced">
            {payoff.legs.map((l, i) => (
              <span key={i} data-priced={i}>
                {l.side === "buy" ? "+" : "−"}
                {l.quantity} × {l.strike} {l.option_type} @ {l.price.toFixed(2)} (IV {(l.iv * 100).toFixed(1)}%
                {l.iv_source === "chain" ? ", chain's" : ""})
              </span>
            ))}
            {payoff.stale ? <span className="stale"> · stale chain</span> : null}
          </p>
        </>
      ) : null}
      <SaveLoad s={s} />
    </section>
  );
}
