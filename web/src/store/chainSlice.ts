/**
 * The option chain of the selected expiry: an entity adapter keyed by strike.
 *
 * A delta is applied in one action: only the rows it touches get new object references, so
 * memoised row components of unchanged strikes do not re-render.
 */
import { createEntityAdapter, createSlice, original, type PayloadAction } from "@reduxjs/toolkit";
import type { Convention, DeltaMessage, JsonObject, Snapshot, SnapshotMeta, StrikeRow } from "../types";
import { isPlainObject, mergedCopy, withoutPath } from "./merge";
import { viewApplied } from "./view";
import { timeTravel, underlyingSelected } from "./uiSlice";

export const rowsAdapter = createEntityAdapter<StrikeRow, string>({
  selectId: (row) => String(row.strike),
  sortComparer: (a, b) => a.strike - b.strike,
});

/** Everything in the snapshot but the strikes (spot, aggregates, ...). */
export type ChainMeta = SnapshotMeta;

export interface ChainState {
  expiry: string | null;
  /**
   * The minute the chain is of (ISO, the view's `at`), null for live. A chain of another minute
   * (or the live one in history mode) is never kept: changing it empties the table, and live
   * data arriving meanwhile is dropped.
   */
  at: string | null;
  seq: number | null;
  meta: ChainMeta | null;
  rows: ReturnType<typeof rowsAdapter.getInitialState>;
  /** How the current data arrived: live socket, REST (poll/resync) or a past minute. */
  source: "ws" | "rest" | "history" | null;
  /** The IV convention of the loaded values; with "nse" live deltas keep the fetched Greeks. */
  convention: Convention;
  receivedAt: number | null;
  /** Deltas applied since the last snapshot (for diagnostics). */
  applied: number;
}

const initialState: ChainState = {
  expiry: null,
  at: null,
  seq: null,
  meta: null,
  rows: rowsAdapter.getInitialState(),
  source: null,
  convention: "forward",
  receivedAt: null,
  applied: 0,
};

// Forward-convention fields a live delta carries; NSE-style values come from REST only. The IV's
// reason goes with its IV: a forward delta's reason beside an NSE IV would explain the wrong one.
const GREEK_KEYS = new Set(["iv", "iv_reason", "delta", "gamma", "theta", "vega"]);
const AGG_CONVENTION_KEYS = new Set(["atm_iv", "expected_move"]);

function withoutKeys(obj: JsonObject, keys: Set<string>): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(obj)) if (!keys.has(k)) out[k] = v;
  return out;
}

function stripGreeks(row: JsonObject): JsonObject {
  const out = withoutKeys(row, GREEK_KEYS);
  for (const side of ["CE", "PE"]) {
    const leg = out[side];
    if (isPlainObject(leg)) out[side] = withoutKeys(leg, GREEK_KEYS);
  }
  return out;
}

/**
 * The chain after one delta (pure): untouched rows keep their object identity, so their
 * memoised components skip rendering. Deltas of another expiry return `state` itself.
 */
export function applyChainDelta(state: ChainState, delta: DeltaMessage & { receivedAt?: number }): ChainState {
  if (delta.expiry !== state.expiry || state.meta === null || state.at !== null) return state;
  const nse = state.convention === "nse";
  let meta = state.meta as JsonObject;
  let entities = state.rows.entities as Record<string, StrikeRow>;
  let ids = state.rows.ids;
  let entitiesCopied = false;
  const own = () => {
    if (!entitiesCopied) {
      entities = { ...entities };
      entitiesCopied = true;
    }
    return entities;
  };
  let idsChanged = false;
  for (const path of delta.unset ?? []) {
    if (path[0] === "strikes" && path.length >= 2) {
      const id = path[1]!;
      const row = entities[id];
      if (!row) continue;
      if (path.length === 2) {
        // eslint-disable-next-line @typescript-eslint/no-dynamic-delete
        delete own()[id];
        idsChanged = true;
      } else {
        own()[id] = withoutPath(row as JsonObject, path.slice(2)) as StrikeRow;
      }
    } else {
      meta = withoutPath(meta, path);
    }
  }
  const { strikes, ...rest } = delta.set ?? {};
  if (isPlainObject(strikes)) {
    for (const [id, change] of Object.entries(strikes)) {
      if (!isPlainObject(change)) continue;
      const row = entities[id];
      if (row) {
        const patch = nse ? stripGreeks(change) : change;
        own()[id] = mergedCopy(row as JsonObject, patch) as StrikeRow;
      } else {
        own()[id] = { ...(change as StrikeRow), strike: Number(id) };
        idsChanged = true;
      }
    }
  }
  if (nse && isPlainObject(rest.aggregates)) {
    rest.aggregates = withoutKeys(rest.aggregates, AGG_CONVENTION_KEYS);
  }
  meta = mergedCopy(meta, rest);
  if (idsChanged) {
    ids = Object.values(entities)
      .sort((a, b) => a.strike - b.strike)
      .map((r) => String(r.strike));
  }
  return {
    ...state,
    meta: meta as ChainMeta,
    rows: { ids, entities },
    seq: delta.seq,
    source: "ws",
    receivedAt: delta.receivedAt ?? Date.now(),
    applied: state.applied + 1,
  };
}

export interface SnapshotPayload {
  snapshot: Snapshot;
  source: "ws" | "rest" | "history";
  convention?: Convention;
  receivedAt?: number;
}

function clear(state: ChainState): void {
  state.seq = null;
  state.meta = null;
  state.source = null;
  state.applied = 0;
  rowsAdapter.removeAll(state.rows);
}

/** Another expiry: nothing of the previous one's chain stays on screen. */
function selectExpiry(state: ChainState, expiry: string | null): void {
  if (state.expiry === expiry) return;
  state.expiry = expiry;
  clear(state);
}

/** Another minute (or live again): nor does the chain of another time. */
function selectMinute(state: ChainState, at: string | null): void {
  if (state.at === at) return;
  state.at = at;
  clear(state);
}

const chainSlice = createSlice({
  name: "chain",
  initialState,
  reducers: {
    expirySelected(state, action: PayloadAction<string | null>) {
      selectExpiry(state, action.payload);
    },
    snapshotReceived(state, action: PayloadAction<SnapshotPayload>) {
      const { snapshot, source } = action.payload;
      if (state.expiry !== null && snapshot.expiry !== state.expiry) return;
      // Live data after the view went to a past minute, or a past minute's after it came back.
      if ((source === "history") !== (state.at !== null)) return;
      const { strikes, ...meta } = snapshot;
      state.expiry = snapshot.expiry;
      state.seq = typeof snapshot.seq === "number" ? snapshot.seq : null;
      state.meta = meta;
      state.source = source;
      state.convention = action.payload.convention ?? "forward";
      state.receivedAt = action.payload.receivedAt ?? Date.now();
      state.applied = 0;
      const rows: StrikeRow[] = Object.entries(strikes ?? {}).map(([key, row]) => ({
        ...row,
        strike: typeof row.strike === "number" ? row.strike : Number(key),
      }));
      rowsAdapter.setAll(state.rows, rows);
    },
    deltaReceived(state, action: PayloadAction<DeltaMessage & { receivedAt?: number }>) {
      // Built without Immer drafts: a delta touches hundreds of fields 4 times a second, and
      // plain copies of the touched rows are several times cheaper than proxied writes.
      const base = original(state) ?? state;
      return applyChainDelta(base, action.payload);
    },
  },
  extraReducers: (b) => {
    b.addCase(viewApplied, (state, { payload }) => {
      if (payload.expiry !== undefined) selectExpiry(state, payload.expiry);
      if (payload.at !== undefined) selectMinute(state, payload.at);
    });
    b.addCase(timeTravel, (state, { payload }) => selectMinute(state, payload));
    // Another underlying's expiries are other contracts, even on the same date.
    b.addCase(underlyingSelected, (state) => selectExpiry(state, null));
  },
});

export const { expirySelected, snapshotReceived, deltaReceived } = chainSlice.actions;
export default chainSlice.reducer;
