/** Wire types of the browser contract (docs/api.md, docs/storage.md). */
import type { FiredAlert } from "./alerts/types";
import type { SavedStrategy } from "./strategy/types";

export type Side = "CE" | "PE";

/** One leg (call or put) of a strike, as in the snapshot document. Missing numbers are null. */
export interface Leg {
  token?: number;
  ltp?: number | null;
  close?: number | null;
  change?: number | null;
  change_pct?: number | null;
  bid?: number | null;
  ask?: number | null;
  bid_qty?: number | null;
  ask_qty?: number | null;
  volume?: number | null;
  oi?: number | null;
  oi_change?: number | null;
  iv?: number | null;
  delta?: number | null;
  gamma?: number | null;
  theta?: number | null;
  vega?: number | null;
  buildup?: string | null;
  /** Why `iv` is null (strikeboard/chain/ivreason.py); null when there is an IV. */
  iv_reason?: IvReason | null;
  [extra: string]: unknown;
}

export type IvReason = "no_price" | "no_spot" | "expired" | "intrinsic" | "bound" | "unsolved";

/** One strike row: the entity of the chain adapter, keyed by the strike's string form. */
export interface StrikeRow {
  strike: number;
  iv?: number | null;
  gex?: number | null;
  CE?: Leg;
  PE?: Leg;
  [extra: string]: unknown;
}

export interface Aggregates {
  pcr_oi?: number | null;
  pcr_volume?: number | null;
  pcr_oi_change?: number | null;
  max_pain?: number | null;
  atm_iv?: number | null;
  atm_straddle?: number | null;
  expected_move?: number | null;
  call_oi?: number | null;
  put_oi?: number | null;
  support?: number | null;
  resistance?: number | null;
  [extra: string]: unknown;
}

/** Everything in a snapshot document but the strikes (spot, aggregates, REST envelope). */
export interface SnapshotMeta {
  underlying: string;
  expiry: string;
  seq?: number | null;
  ts?: number | null;
  spot?: number | null;
  future?: number | null;
  forward?: number | null;
  atm_strike?: number | null;
  days_to_expiry?: number | null;
  lot_size?: number | null;
  aggregates?: Aggregates;
  source?: "live" | "archive";
  stale?: boolean;
  age_s?: number | null;
  [extra: string]: unknown;
}

/** The snapshot document of one expiry (plus the REST envelope fields when fetched). */
export interface Snapshot extends SnapshotMeta {
  strikes: Record<string, StrikeRow>;
}

export type JsonObject = Record<string, unknown>;
export type Path = string[];

export interface DeltaMessage {
  type: "delta";
  /** Absent from servers that followed NIFTY alone. */
  underlying?: string;
  expiry: string;
  seq: number;
  base: number | null;
  set?: JsonObject;
  unset?: Path[];
}

export interface MarketInstrument {
  token?: number;
  ltp?: number | null;
  close?: number | null;
  change?: number | null;
  change_pct?: number | null;
  open?: number | null;
  high?: number | null;
  low?: number | null;
  oi?: number | null;
  ts?: number | null;
}

export type ServerMessage =
  | { type: "snapshot"; underlying?: string; expiry: string; seq: number; data: Snapshot }
  | DeltaMessage
  | { type: "reset"; underlying?: string; expiry: string; seq: number }
  | { type: "market"; data: Record<string, MarketInstrument> }
  | { type: "order"; data: JsonObject }
  /** One of the user's alert rules fired (docs/alerts.md). */
  | { type: "alert"; data: FiredAlert }
  | { type: "pong" }
  | { type: "error"; message: string }
  | { type: "part"; id: string; index: number; count: number; chunk: string }
  /** One push cycle's messages for this connection (market data, deltas, orders), in order. */
  | { type: "batch"; messages: ServerMessage[] };

/** A followed underlying, GET /api/underlyings (in the deployment's configured order). */
export interface UnderlyingInfo {
  name: string;
  exchange: "NSE" | "BSE";
  spot_symbol: string;
  strike_step: number;
  lot_size: number | null;
  vix_symbol: string | null;
}

export interface ExpiryInfo {
  expiry: string;
  days_to_expiry: number;
  kind: "weekly" | "monthly";
  lot_size: number;
}

/** The market's state by NSE's calendar (strikeboard/api/models.py `Session`). */
export type SessionState = "open" | "closed" | "holiday";

export interface Session {
  state: SessionState;
  /** The session whose data is on screen (YYYY-MM-DD): today once it opened, else the previous one. */
  last_session: string;
  /** That session's close (15:30 IST), ISO datetime. */
  last_close: string;
  /** The next open (09:15 IST), ISO datetime. */
  next_open: string;
  /** Why the market is shut today ("2026-11-29 is a Sunday", "... is an NSE holiday"), else null. */
  reason: string | null;
  /** The feed's own record of the last session it opened or closed. */
  recorded: { day?: string; state?: string; at?: string; [extra: string]: unknown } | null;
}

export interface Health {
  status: "ok" | "closed" | "degraded" | "down" | string;
  feed?: {
    connected?: boolean;
    /** The feed's Kite token: in use, none stored yet, refused by Kite, or no feed health. */
    token?: "ok" | "waiting" | "expired" | "unknown";
    last_tick_age_s?: number | null;
    ticks_per_s?: number | null;
    [extra: string]: unknown;
  };
  redis?: boolean;
  database?: boolean;
  market_open?: boolean;
  /** Absent only from an older API. */
  session?: Session;
  /** The API's (the market's) time, ISO with the IST offset. */
  now?: string;
}

export interface MarketResponse {
  instruments: Record<string, MarketInstrument>;
  stale: boolean;
  age_s: number | null;
  market_open: boolean;
}

export type Convention = "forward" | "nse";
export type Theme = "dark" | "light";
export type IvLeg = "otm" | "call" | "put";

export const COLUMN_KEYS = [
  "oi",
  "oi_change",
  "volume",
  "iv",
  "ltp",
  "change",
  "bid",
  "ask",
  "bid_qty",
  "ask_qty",
  "delta",
  "gamma",
  "theta",
  "vega",
  "buildup",
] as const;
export type ColumnKey = (typeof COLUMN_KEYS)[number];

export interface Preferences {
  columns: ColumnKey[];
  strikes: number;
  theme: Theme;
  default_expiry: string | null;
  convention: Convention;
  iv_leg: IvLeg;
  /** The strategy builder's saved strategies (strategy/codec.ts bounds them as the API does). */
  strategies: SavedStrategy[];
  /** Flash the changed digits of a value (false: no motion in the chain). */
  flash: boolean;
}
