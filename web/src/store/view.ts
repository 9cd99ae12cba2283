/**
 * The view the address bar holds: underlying, expiry, the minute in history mode, the IV
 * convention and the open panel. A reload or a shared link shows the same view; back and
 * forward move between views (store/index.ts writes the address, App.tsx reads it back).
 *
 * The view is the query string of the page's own path (`/?underlying=NIFTY&expiry=...`): the
 * fragment stays free for the dev token (`#token=`), and every path without a dot is the SPA
 * (CloudFront Function, local gateway), so a link with a query string always loads it.
 */
import { createAction } from "@reduxjs/toolkit";
import { istDate, istTime } from "../clock";
import type { Convention } from "../types";

/** The panels over the dashboard, one open at a time. */
export const PANELS = ["settings", "help", "history"] as const;
export type Panel = (typeof PANELS)[number];

export interface View {
  underlying: string;
  expiry: string | null;
  /** A past minute (ISO with the IST offset) or null for live. */
  at: string | null;
  convention: Convention;
  panel: Panel | null;
}

/**
 * A view taken from elsewhere than a user's navigation (the address on load, back or forward,
 * the expiry picked when none was asked for): it replaces the history entry, never adds one.
 */
export const viewApplied = createAction<Partial<View>>("view/applied");

// The API's own pattern (strikeboard/api/app.py UNDERLYING).
const UNDERLYING = /^[A-Z][A-Z0-9&-]{0,19}$/;
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const MINUTE = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})$/;

/** A real calendar day "YYYY-MM-DD" (not 2026-02-30). */
export function isDay(text: string): boolean {
  const m = DAY.exec(text);
  if (!m) return false;
  const t = Date.parse(`${text}T00:00:00Z`);
  return Number.isFinite(t) && new Date(t).toISOString().slice(0, 10) === text;
}

/** The address form of a minute: "YYYY-MM-DDTHH:MM" on the market's clock (IST). */
export function atParam(at: string): string | null {
  const t = Date.parse(at);
  return Number.isFinite(t) ? `${istDate(t)}T${istTime(t)}` : null;
}

/** A minute from the address ("YYYY-MM-DDTHH:MM", IST) as the store keeps it, or null. */
export function atFromParam(text: string): string | null {
  const m = MINUTE.exec(text);
  if (!m || !isDay(m[1]!) || Number(m[2]) > 23 || Number(m[3]) > 59) return null;
  return `${text}:00+05:30`;
}

// Query values are validated to safe characters; ":" stays readable in "at=2026-11-30T10:15".
const enc = (v: string) => encodeURIComponent(v).replace(/%3A/gi, ":");

/** The query string of a view ("?underlying=NIFTY&expiry=..."): stable order, defaults kept. */
export function encodeView(v: View): string {
  const parts = [`underlying=${enc(v.underlying)}`];
  if (v.expiry) parts.push(`expiry=${enc(v.expiry)}`);
  const at = v.at ? atParam(v.at) : null;
  if (at) parts.push(`at=${enc(at)}`);
  parts.push(`convention=${v.convention}`);
  if (v.panel) parts.push(`panel=${v.panel}`);
  return `?${parts.join("&")}`;
}

/**
 * The view in a query string. What it leaves out: live (no `at`) and no panel; the expiry,
 * underlying and convention stay as they are. Malformed values are ignored.
 */
export function decodeView(search: string): Partial<View> {
  const p = new URLSearchParams(search);
  const out: Partial<View> = { at: null, panel: null };
  const underlying = p.get("underlying");
  if (underlying && UNDERLYING.test(underlying)) out.underlying = underlying;
  const expiry = p.get("expiry");
  if (expiry && isDay(expiry)) out.expiry = expiry;
  const at = p.get("at");
  if (at) out.at = atFromParam(at);
  const convention = p.get("convention");
  if (convention === "forward" || convention === "nse") out.convention = convention;
  const panel = p.get("panel");
  if ((PANELS as readonly (string | null)[]).includes(panel)) out.panel = panel as Panel;
  return out;
}

/** Whether two views differ in more than the open panel (a navigation worth a history entry). */
export function navigated(a: View, b: View): boolean {
  return a.underlying !== b.underlying || a.expiry !== b.expiry || a.at !== b.at || a.convention !== b.convention;
}
