/**
 * Wire types of the browser contract (docs/api.md, docs/storage.md). The REST API's types are
 * generated from its OpenAPI schema (api/schema.gen.ts, `npm run api:types`): they are aliased
 * here, never written again; what the schema does not describe (the WebSocket's messages, the
 * SPA's own state) is written below.
 */
import type * as api from "./api/schema.gen";
import type { FiredAlert } from "./alerts/types";
import type { SavedStrategy } from "./strategy/types";

export type Side = "CE" | "PE";

/** One leg (call or put) of a strike, as in the snapshot document. Missing numbers are null. */
export type Leg = api.Leg;
/** Why a leg's `iv` is null (strikeboard/chain/ivreason.py). */
export type IvReason = NonNullable<Leg["iv_reason"]>;
/** One strike row: the entity of the chain adapter, keyed by the strike's string form. */
export type StrikeRow = api.StrikeRow;
export type Aggregates = api.Aggregates;

/** What only the REST answer adds to the snapshot document (where it came from). */
type Envelope = "source" | "stale" | "age_s" | "convention" | "minute";
/**
 * The snapshot document of one expiry: the REST chain (`Chain`) without the need for its
 * envelope, which the live stream's snapshots do not carry.
 */
export type Snapshot = Without<api.Chain, Envelope> & Partial<Pick<api.Chain, Envelope>>;
/** Everything in a snapshot document but the strikes (spot, aggregates, REST envelope). */
export type SnapshotMeta = Without<Snapshot, "strikes">;

/** `Omit` that keeps the named fields of a type with an index signature (Omit keeps only it). */
export type Without<T, K extends PropertyKey> = { [P in keyof T as P extends K ? never : P]: T[P] };

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
export type UnderlyingInfo = api.UnderlyingInfo;
export type ExpiryInfo = api.Expiry;
/** The market's state by NSE's calendar (strikeboard/api/models.py `Session`). */
export type Session = api.Session;
export type SessionState = Session["state"];
export type Health = api.Health;
/** GET /api/market; the schema leaves an instrument's fields open, the SPA reads these. */
export type MarketResponse = Without<api.Market, "instruments"> & { instruments: Record<string, MarketInstrument> };

export type Convention = api.Preferences["convention"];
export type Theme = api.Preferences["theme"];
export type IvLeg = api.Preferences["iv_leg"];

/** The leg columns the SPA shows: some of the API's (preferences.columns). */
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
] as const satisfies readonly NonNullable<api.Preferences["columns"]>[number][];
export type ColumnKey = (typeof COLUMN_KEYS)[number];

/** The API's preferences with every field present, the columns those the SPA shows. */
export type Preferences = Required<Without<api.Preferences, "columns" | "strategies" | "default_expiry">> & {
  columns: ColumnKey[];
  default_expiry: string | null;
  /** The strategy builder's saved strategies (strategy/codec.ts bounds them as the API does). */
  strategies: SavedStrategy[];
};
