/** Small snapshot documents shaped like strikeboard/chain/snapshot.py's output. */
import type { Snapshot, StrikeRow } from "../types";

export function leg(ltp: number, oi: number, extra: Record<string, unknown> = {}) {
  return { ltp, oi, oi_change: 0, change: 0, iv: 0.12, delta: 0.5, volume: 100, ...extra };
}

export function snapshot(seq: number, strikes: number[] = [25900, 25950, 26000, 26050, 26100]): Snapshot {
  const rows: Record<string, StrikeRow> = {};
  for (const k of strikes) {
    rows[String(k)] = { strike: k, iv: 0.12, gex: 1, CE: leg(100, 1000), PE: leg(90, 2000) };
  }
  return {
    underlying: "NIFTY",
    expiry: "2026-12-01",
    seq,
    ts: 1_790_000_000,
    spot: 26010.5,
    future: 26040,
    forward: 26035,
    atm_strike: 26000,
    lot_size: 65,
    aggregates: { pcr_oi: 0.9, max_pain: 26000, atm_iv: 0.12 },
    strikes: rows,
  };
}
