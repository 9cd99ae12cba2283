/** Memoised selectors over the chain (per-row selectors keep row re-renders to changed rows). */
import { createSelector } from "@reduxjs/toolkit";
import type { RootState } from ".";
import { rowsAdapter } from "./chainSlice";
import type { View } from "./view";

const rowSelectors = rowsAdapter.getSelectors((s: RootState) => s.chain.rows);

export const selectRow = rowSelectors.selectById;
export const selectAllRows = rowSelectors.selectAll;
export const selectStrikeIds = rowSelectors.selectIds;
export const selectMeta = (s: RootState) => s.chain.meta;

/** The view the address bar holds (store/view.ts). */
export const selectView = createSelector(
  [
    (s: RootState) => s.ui.underlying,
    (s: RootState) => s.chain.expiry,
    (s: RootState) => s.ui.at,
    (s: RootState) => s.prefs.convention,
    (s: RootState) => s.ui.panel,
  ],
  (underlying, expiry, at, convention, panel): View => ({ underlying, expiry, at, convention, panel }),
);
export const selectSpot = (s: RootState) => s.chain.meta?.spot ?? null;
export const selectAtm = (s: RootState) => s.chain.meta?.atm_strike ?? null;
/**
 * The price that decides moneyness: the forward, which also picks the ATM strike (the API's
 * `atm_strike`), so ITM shading and the ATM row follow one rule; spot until a forward is known.
 */
export const selectMoneynessRef = (s: RootState) => s.chain.meta?.forward ?? s.chain.meta?.spot ?? null;

/** Index of the ATM strike in the sorted ids (nearest strike when atm_strike is missing). */
export function atmIndex(ids: readonly string[], atm: number | null): number {
  if (!ids.length) return -1;
  if (atm === null) return Math.floor(ids.length / 2);
  let best = 0;
  let bestDist = Infinity;
  ids.forEach((id, i) => {
    const d = Math.abs(Number(id) - atm);
    if (d < bestDist) {
      best = i;
      bestDist = d;
    }
  });
  return best;
}

/** The strikes shown: `n` either side of the ATM strike. Stable while ids and ATM are. */
export const selectVisibleIds = createSelector(
  [selectStrikeIds, selectAtm, (s: RootState) => s.prefs.strikes],
  (ids, atm, n) => {
    const i = atmIndex(ids, atm);
    if (i < 0) return [] as string[];
    return ids.slice(Math.max(0, i - n), i + n + 1);
  },
);

/**
 * A "nice" upper bound (1, 2 or 5 x 10^k) of the visible OI. It changes rarely, so the bar
 * scale moves in steps instead of every tick; rows read it from a CSS variable anyway.
 */
export function niceCeil(value: number): number {
  if (!(value > 0)) return 1;
  const exp = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 5, 10]) if (m * exp >= value) return m * exp;
  return 10 * exp;
}

export const selectOiScale = createSelector(
  [selectVisibleIds, (s: RootState) => s.chain.rows.entities],
  (ids, entities) => {
    let oi = 0;
    let chg = 0;
    for (const id of ids) {
      const row = entities[id];
      for (const leg of [row?.CE, row?.PE]) {
        oi = Math.max(oi, leg?.oi ?? 0);
        chg = Math.max(chg, Math.abs(leg?.oi_change ?? 0));
      }
    }
    return { oi: niceCeil(oi), oiChange: niceCeil(chg) };
  },
);

export interface StrikeSeries {
  strike: number;
  callOi: number | null;
  putOi: number | null;
  callOiChange: number | null;
  putOiChange: number | null;
  callIv: number | null;
  putIv: number | null;
  iv: number | null;
  gex: number | null;
}

/** Per-strike series for the OI, change-in-OI, smile and GEX charts (visible strikes). */
export const selectStrikeSeries = createSelector(
  [selectVisibleIds, (s: RootState) => s.chain.rows.entities],
  (ids, entities): StrikeSeries[] =>
    ids.flatMap((id) => {
      const r = entities[id];
      if (!r) return [];
      return [
        {
          strike: r.strike,
          callOi: r.CE?.oi ?? null,
          putOi: r.PE?.oi ?? null,
          callOiChange: r.CE?.oi_change ?? null,
          putOiChange: r.PE?.oi_change ?? null,
          callIv: r.CE?.iv ?? null,
          putIv: r.PE?.iv ?? null,
          iv: r.iv ?? null,
          gex: r.gex ?? null,
        },
      ];
    }),
);

export type Badge = "live" | "reconnecting" | "polling" | "stale" | "closed" | "history" | "connecting";

/** The connection badge; `now` in ms, passed by a ticking component. */
export function badgeFor(s: RootState, now: number, staleAfterMs = 10_000): Badge {
  if (s.ui.at) return "history";
  const fresh = s.chain.receivedAt !== null && now - s.chain.receivedAt <= staleAfterMs;
  // Deltas still streaming is live whatever the calendar says (e.g. the simulator after hours).
  if (s.ui.connection === "live" && fresh && s.chain.source === "ws") return "live";
  // Outside market hours old data is the last session, not stale.
  const shut = s.market.session ? s.market.session.state !== "open" : s.market.marketOpen === false;
  if (shut || s.chain.meta?.source === "archive") return "closed";
  if (s.chain.meta?.stale) return "stale";
  if (s.ui.connection === "live" && !fresh) return "stale";
  return s.ui.connection;
}
