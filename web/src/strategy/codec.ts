/**
 * Strategies in short text: the share link's `?strategy=` parameter, and the sanitiser of saved
 * strategies read back from storage or the API.
 *
 * Link form: `NIFTY_261201C27550b1m_261201P27550b1m`: the underlying, then per leg the expiry
 * (yymmdd), C or P, the strike, b(uy) or s(ell), lots, and the entry: m(id), b(id), a(sk),
 * l(tp) or t<price> (typed). Only URL-safe characters, no escaping: ~15 characters a leg.
 */
import type { Entry, SavedStrategy, StrategyLeg } from "./types";
import { ENTRIES } from "./types";

const UNDERLYING = /^[A-Z][A-Z0-9&-]{0,19}$/;
const LEG = /^(\d{2})(\d{2})(\d{2})([CP])(\d+(?:\.\d+)?)([bs])(\d{1,5})(m|b|a|l|t(\d+(?:\.\d+)?))$/;
const ENTRY_CODE: Record<Exclude<Entry, "typed">, string> = { mid: "m", bid: "b", ask: "a", ltp: "l" };
const CODE_ENTRY: Record<string, Entry> = { m: "mid", b: "bid", a: "ask", l: "ltp" };
export const MAX_SHARED_LEGS = 20;
export const MAX_SAVED = 10; // strikeboard/api/models.py MAX_SAVED_STRATEGIES

function legCode(l: StrategyLeg): string {
  const day = l.expiry.slice(2).replace(/-/g, "");
  const entry = l.entry === "typed" ? `t${l.price ?? 0}` : ENTRY_CODE[l.entry];
  return `${day}${l.option_type[0]}${l.strike}${l.side[0]}${l.lots}${entry}`;
}

export function encodeStrategy(underlying: string, legs: StrategyLeg[]): string {
  return [underlying, ...legs.map(legCode)].join("_");
}

/** The strategy of a link, or null when any part of it is malformed. */
export function decodeStrategy(text: string): { underlying: string; legs: StrategyLeg[] } | null {
  const [underlying, ...codes] = text.split("_");
  if (!underlying || !UNDERLYING.test(underlying) || codes.length < 1 || codes.length > MAX_SHARED_LEGS) return null;
  const legs: StrategyLeg[] = [];
  for (const code of codes) {
    const m = LEG.exec(code);
    if (!m) return null;
    const expiry = `20${m[1]}-${m[2]}-${m[3]}`;
    if (!isDay(expiry)) return null;
    const lots = Number(m[7]);
    const typed = m[9] !== undefined;
    const price = typed ? Number(m[9]) : null;
    if (lots < 1 || (typed && !(price! > 0))) return null;
    legs.push({
      expiry,
      strike: Number(m[5]),
      option_type: m[4] === "C" ? "CE" : "PE",
      side: m[6] === "b" ? "buy" : "sell",
      lots,
      entry: typed ? "typed" : CODE_ENTRY[m[8]!]!,
      price,
    });
  }
  return { underlying, legs };
}

function isDay(text: string): boolean {
  const t = Date.parse(`${text}T00:00:00Z`);
  return Number.isFinite(t) && new Date(t).toISOString().slice(0, 10) === text;
}

function sanitizeLeg(raw: unknown): StrategyLeg | null {
  if (typeof raw !== "object" || raw === null) return null;
  const r = raw as Record<string, unknown>;
  const entry = (ENTRIES as readonly unknown[]).includes(r.entry) ? (r.entry as Entry) : "mid";
  const price = typeof r.price === "number" && r.price > 0 ? r.price : null;
  if (typeof r.expiry !== "string" || !isDay(r.expiry)) return null;
  if (typeof r.strike !== "number" || !(r.strike > 0)) return null;
  if (r.option_type !== "CE" && r.option_type !== "PE") return null;
  if (r.side !== "buy" && r.side !== "sell") return null;
  if (entry === "typed" && price === null) return null;
  const lots = typeof r.lots === "number" && r.lots >= 1 ? Math.min(10_000, Math.round(r.lots)) : 1;
  return { expiry: r.expiry, strike: r.strike, option_type: r.option_type, side: r.side, lots, entry, price };
}

/** Saved strategies as the API accepts them (preferences): malformed ones dropped, names unique. */
export function sanitizeStrategies(raw: unknown[]): SavedStrategy[] {
  const out: SavedStrategy[] = [];
  for (const item of raw) {
    if (typeof item !== "object" || item === null) continue;
    const r = item as Record<string, unknown>;
    if (typeof r.name !== "string" || !r.name.trim() || r.name.length > 60 || out.some((s) => s.name === r.name)) continue;
    const underlying = typeof r.underlying === "string" && UNDERLYING.test(r.underlying) ? r.underlying : "NIFTY";
    const legs = Array.isArray(r.legs) ? r.legs.map(sanitizeLeg) : [];
    if (!legs.length || legs.length > MAX_SHARED_LEGS || legs.some((l) => l === null)) continue;
    out.push({ name: r.name, underlying, legs: legs as StrategyLeg[] });
    if (out.length === MAX_SAVED) break;
  }
  return out;
}

/** `saved` with `strategy` in place of the one of the same name (else first), at most MAX_SAVED. */
export function withSaved(saved: SavedStrategy[], strategy: SavedStrategy): SavedStrategy[] {
  return [strategy, ...saved.filter((s) => s.name !== strategy.name)].slice(0, MAX_SAVED);
}
