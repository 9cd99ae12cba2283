/**
 * Wire types of the alerts (docs/alerts.md). The REST ones (GET/POST /api/alerts, GET
 * /api/alerts/events, /api/alerts/email) are the generated schema's (api/schema.gen.ts, `npm run api:types`),
 * aliased here; written here: the WebSocket's `alert` message and the SPA's own constants.
 */
import type * as api from "../api/schema.gen";
import type { Without } from "../types";

export type AlertKind = api.AlertRule["kind"];
export type AlertOp = api.AlertRule["op"];
export type OptionType = NonNullable<api.AlertRule["option_type"]>;

export const ALERT_KINDS: readonly AlertKind[] = ["spot", "ltp", "iv", "oi", "oi_change", "pcr", "max_pain"];
/** Kinds read from one leg: they need an expiry, a strike and CE/PE. */
export const CONTRACT_KINDS: ReadonlySet<AlertKind> = new Set(["ltp", "iv", "oi", "oi_change"]);
/** Kinds read from an expiry's aggregates: they need an expiry. */
export const EXPIRY_KINDS: ReadonlySet<AlertKind> = new Set(["pcr", "max_pain"]);

export const KIND_LABELS: Record<AlertKind, string> = {
  spot: "Spot",
  ltp: "LTP",
  iv: "IV",
  oi: "OI",
  oi_change: "Chg in OI",
  pcr: "PCR (OI)",
  max_pain: "Max pain",
};

/** What a rule watches and how (shared by rules and their fired alerts). */
export type Watched = Pick<api.AlertRule, "kind" | "underlying" | "expiry" | "strike" | "option_type" | "op" | "level">;

/**
 * POST /api/alerts. The schema's per-kind variants (which fields each kind needs) come out of
 * openapi-typescript as members of a union: the complete object is the one with `op`. Two
 * fields are the deployment's choice, so the dumped schema (scripts/api_types.py: every known
 * underlying, no e-mail topic) says less than the SPA may send: `underlying` is one the
 * deployment follows (the SPA's selection), and `email` may be true where GET /api/alerts
 * says `email`.
 */
export type AlertRuleIn = Without<Extract<api.AlertRuleIn, { op: unknown }>, "email" | "underlying"> & {
  underlying: string;
  email: boolean;
};
/** A stored rule and where it stands. */
export type AlertRule = api.AlertRule;
export type AlertRules = api.AlertRules;
/** A row of GET /api/alerts/events: a fired alert with its deliveries. */
export type AlertEvent = api.AlertEvent;
export type AlertEvents = api.AlertEvents;
/** GET/PUT /api/alerts/email: the user's e-mail subscription (none, pending, confirmed). */
export type AlertEmail = api.AlertEmail;
export type AlertEmailIn = api.AlertEmailIn;

/**
 * A fired alert as the WebSocket's `alert` message carries it (not a REST model:
 * strikeboard.push.messages.alert_message): an events row without its delivery fields.
 */
export type FiredAlert = Without<AlertEvent, "email" | "pushed_at" | "emailed_at">;
