/** Number formatting for dense tables (Indian grouping, tabular figures via CSS). */
import type { ColumnKey } from "./types";

const int = new Intl.NumberFormat("en-IN", { maximumFractionDigits: 0 });
const fix2 = new Intl.NumberFormat("en-IN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

export const DASH = "–";

/** Compact quantities the way Indian traders read them: K, L (lakh), Cr (crore). */
export function compact(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return DASH;
  const a = Math.abs(v);
  if (a >= 1e7) return `${(v / 1e7).toFixed(2)}Cr`;
  if (a >= 1e5) return `${(v / 1e5).toFixed(2)}L`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(1)}K`;
  return int.format(v);
}

export function price(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? DASH : fix2.format(v);
}

export function signed(v: number | null | undefined, f: (x: number) => string = price): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return DASH;
  return v > 0 ? `+${f(v)}` : f(v);
}

export function pct(v: number | null | undefined, digits = 1): string {
  return v === null || v === undefined || !Number.isFinite(v) ? DASH : `${(v * 100).toFixed(digits)}%`;
}

export function fixed(v: number | null | undefined, digits: number): string {
  return v === null || v === undefined || !Number.isFinite(v) ? DASH : v.toFixed(digits);
}

export interface ColumnDef {
  label: string;
  title: string;
  format: (v: unknown) => string;
  /** Sign-coloured (green up, red down). */
  signed?: boolean;
  /** Drawn with a bar scaled by the visible maximum. */
  bar?: "oi" | "oiChange";
  /**
   * The column's least width in `ch` (the widest value it formats, or its label): the table's
   * columns are sized from their content, never squeezed into each other, and the table
   * scrolls sideways when they do not fit.
   */
  width: number;
}

const num = (v: unknown): number | null => (typeof v === "number" ? v : null);

export const COLUMNS: Record<ColumnKey, ColumnDef> = {
  oi: { label: "OI", width: 8, title: "Open interest", format: (v) => compact(num(v)), bar: "oi" },
  oi_change: {
    label: "Chg OI",
    width: 8,
    title: "Change in OI since the previous close",
    format: (v) => signed(num(v), compact),
    signed: true,
    bar: "oiChange",
  },
  volume: { label: "Volume", width: 7, title: "Volume traded today", format: (v) => compact(num(v)) },
  iv: { label: "IV", width: 6, title: "Implied volatility", format: (v) => pct(num(v)) },
  ltp: { label: "LTP", width: 9, title: "Last traded price", format: (v) => price(num(v)) },
  change: { label: "Chg", width: 9, title: "Change since the previous close", format: (v) => signed(num(v)), signed: true },
  bid: { label: "Bid", width: 9, title: "Best bid", format: (v) => price(num(v)) },
  ask: { label: "Ask", width: 9, title: "Best ask", format: (v) => price(num(v)) },
  bid_qty: { label: "Bid qty", width: 7, title: "Best bid quantity", format: (v) => compact(num(v)) },
  ask_qty: { label: "Ask qty", width: 7, title: "Best ask quantity", format: (v) => compact(num(v)) },
  delta: { label: "Δ", width: 5, title: "Delta", format: (v) => fixed(num(v), 2) },
  gamma: { label: "Γ", width: 6, title: "Gamma", format: (v) => fixed(num(v), 4) },
  theta: { label: "Θ", width: 6, title: "Theta (per day)", format: (v) => fixed(num(v), 1) },
  vega: { label: "ν", width: 5, title: "Vega (per vol point)", format: (v) => fixed(num(v), 1) },
  buildup: {
    label: "Buildup",
    width: 12,
    title: "OI buildup: long/short buildup, short covering, long unwinding",
    format: (v) => (typeof v === "string" && v !== "none" ? v.replace(/_/g, " ") : ""),
  },
};
