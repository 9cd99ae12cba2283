/** RTK Query over the REST API (docs/api.md). */
import { createApi, fetchBaseQuery, type FetchBaseQueryError } from "@reduxjs/toolkit/query/react";
import type { BaseQueryFn, FetchArgs } from "@reduxjs/toolkit/query";
import { getAuth } from "../auth";
import type * as wire from "../api/schema.gen";
import type { ContractMinute, ContractSeries, DailyStat, Gex, Surface } from "../api/schema.gen";
import type {
  Convention,
  ExpiryInfo,
  Health,
  MarketResponse,
  Preferences,
  Snapshot,
  UnderlyingInfo,
} from "../types";
import { unauthorizedChanged, type HistoryStatus } from "./uiSlice";
import type { SerializedError } from "@reduxjs/toolkit";

const rawBaseQuery = fetchBaseQuery({
  // Absolute, so that it also resolves where fetch has no page URL to resolve against (tests).
  baseUrl: `${globalThis.location?.origin ?? ""}/api`,
  prepareHeaders: async (headers) => {
    const token = await getAuth().token();
    if (token) headers.set("Authorization", `Bearer ${token}`);
    return headers;
  },
});

// A 401 renews the session's token and retries once; one that stands raises the token prompt.
const baseQuery: BaseQueryFn<string | FetchArgs, unknown, FetchBaseQueryError> = async (
  args,
  api,
  extra,
) => {
  let result = await rawBaseQuery(args, api, extra);
  if (result.error?.status === 401) {
    // The renewed token is the session's from now on: the retry's prepareHeaders sends it.
    if (await getAuth().renew()) result = await rawBaseQuery(args, api, extra);
  }
  if (result.error?.status === 401) api.dispatch(unauthorizedChanged(true));
  return result;
};

/** A minute of GET /api/analytics/intraday; the live chain's own minute has only some of it,
 * its straddle under the snapshot's name `atm_straddle`. */
export type IntradayPoint = Pick<wire.IntradayPoint, "minute"> &
  Partial<Omit<wire.IntradayPoint, "minute">> & { atm_straddle?: number | null };

export interface ChainQuery {
  expiry: string;
  /** The API's default (NIFTY) when absent. */
  underlying?: string;
  convention: Convention;
  strikes?: number;
  at?: string | null;
}

export function chainPath(q: ChainQuery): string {
  const params = new URLSearchParams({ convention: q.convention });
  if (q.underlying) params.set("underlying", q.underlying);
  if (q.strikes) params.set("strikes", String(q.strikes));
  if (q.at) params.set("at", q.at);
  return `chain/${encodeURIComponent(q.expiry)}?${params.toString()}`;
}

/**
 * The API's answer for a past minute that failed: a 404 is "no data at that minute" (before the
 * archive's first minute of the expiry) with the API's words and, if the API names one, the
 * nearest minute with data (`nearest`); anything else failed.
 */
export function historyFailure(error: FetchBaseQueryError | SerializedError): HistoryStatus {
  const body = "status" in error && error.data && typeof error.data === "object" ? (error.data as Record<string, unknown>) : {};
  const detail = typeof body.detail === "string" ? body.detail : "message" in error && error.message ? error.message : null;
  const nearest = typeof body.nearest === "string" && Number.isFinite(Date.parse(body.nearest)) ? body.nearest : null;
  if ("status" in error && error.status === 404) return { state: "missing", detail, nearest };
  const status = "status" in error ? `HTTP ${String(error.status)}` : null;
  return { state: "failed", detail: detail ?? status, nearest: null };
}

/** An intraday response may be a list or {points|series: [...]}: accept both. */
export function toPoints(raw: unknown): IntradayPoint[] {
  if (Array.isArray(raw)) return raw as IntradayPoint[];
  if (raw && typeof raw === "object") {
    const r = raw as Record<string, unknown>;
    for (const key of ["points", "series", "minutes", "data"]) {
      if (Array.isArray(r[key])) return r[key] as IntradayPoint[];
    }
  }
  return [];
}

/** The key of one contract's day in `contracts`' answer. */
export const contractKey = (token: number, date: string) => `${token}|${date}`;

export interface ContractsQuery {
  tokens: readonly number[];
  /** IST days, YYYY-MM-DD. */
  dates: readonly string[];
}

/** The path of GET /api/analytics/surface. */
export function surfacePath(underlying: string, at: string | null): string {
  const params = new URLSearchParams({ underlying });
  if (at) params.set("at", at);
  return `analytics/surface?${params.toString()}`;
}

export const api = createApi({
  reducerPath: "api",
  baseQuery,
  tagTypes: ["Preferences"],
  endpoints: (b) => ({
    health: b.query<Health, void>({ query: () => "health" }),
    market: b.query<MarketResponse, void>({ query: () => "market" }),
    underlyings: b.query<UnderlyingInfo[], void>({ query: () => "underlyings" }),
    /** The quotes at a past minute (history mode's top bar), with their change from the
     * previous session's close; 404 when that day has none up to that minute. */
    marketAt: b.query<MarketResponse, { underlying: string; at: string }>({
      query: ({ underlying, at }) =>
        `market?underlying=${encodeURIComponent(underlying)}&at=${encodeURIComponent(at)}`,
    }),
    expiries: b.query<ExpiryInfo[], string>({
      query: (underlying) => `expiries?underlying=${encodeURIComponent(underlying)}`,
    }),
    chain: b.query<Snapshot, ChainQuery>({ query: (q) => chainPath(q) }),
    intraday: b.query<IntradayPoint[], { expiry: string; date?: string; underlying?: string }>({
      query: ({ expiry, date, underlying }) =>
        `analytics/intraday?expiry=${encodeURIComponent(expiry)}` +
        (date ? `&date=${encodeURIComponent(date)}` : "") +
        (underlying ? `&underlying=${encodeURIComponent(underlying)}` : ""),
      transformResponse: toPoints,
    }),
    /** Per-minute series of several contracts over several days (GET /history/contract each),
     * by `contractKey`: one answer for a panel's lines, fetched together. */
    contracts: b.query<Record<string, ContractMinute[]>, ContractsQuery>({
      async queryFn({ tokens, dates }, _api, _extra, fetchWith) {
        const keys = tokens.flatMap((t) => dates.map((d) => [t, d] as const));
        const answers = await Promise.all(
          keys.map(([t, d]) => fetchWith(`history/contract?token=${t}&date=${encodeURIComponent(d)}`)),
        );
        const out: Record<string, ContractMinute[]> = {};
        for (const [i, a] of answers.entries()) {
          if (a.error) return { error: a.error };
          const [t, d] = keys[i]!;
          out[contractKey(t, d)] = (a.data as ContractSeries).minutes;
        }
        return { data: out };
      },
      keepUnusedDataFor: 300,
    }),
    /** The front expiry's daily statistics with IV rank and percentile, oldest first. */
    daily: b.query<DailyStat[], { underlying: string; days: number }>({
      query: ({ underlying, days }) => `analytics/daily?underlying=${encodeURIComponent(underlying)}&days=${days}`,
    }),
    /** GEX by strike with its total and flip: live, or the archived minute `at` (history mode). */
    gex: b.query<Gex, { underlying: string; expiry: string; at: string | null }>({
      query: ({ underlying, expiry, at }) => {
        const params = new URLSearchParams({ underlying, expiry });
        if (at) params.set("at", at);
        return `analytics/gex?${params.toString()}`;
      },
    }),
    surface: b.query<Surface, { underlying: string; at: string | null }>({
      query: ({ underlying, at }) => surfacePath(underlying, at),
    }),
    preferences: b.query<Preferences, void>({
      query: () => "preferences",
      providesTags: ["Preferences"],
    }),
    savePreferences: b.mutation<Preferences, Preferences>({
      query: (body) => ({ url: "preferences", method: "PUT", body }),
    }),
  }),
});

export const {
  useHealthQuery,
  useMarketQuery,
  useUnderlyingsQuery,
  useMarketAtQuery,
  useExpiriesQuery,
  useChainQuery,
  useIntradayQuery,
  useContractsQuery,
  useDailyQuery,
  useGexQuery,
  useSurfaceQuery,
  usePreferencesQuery,
} = api;
