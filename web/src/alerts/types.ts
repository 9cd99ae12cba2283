/** Wire types of the alerts (docs/alerts.md): GET/POST /api/alerts, GET /api/alerts/events, the `alert` message. */

export type AlertKind = "spot" | "ltp" | "iv" | "oi" | "oi_change" | "pcr" | "max_pain";
export type AlertOp = "crosses_above" | "crosses_below";
export type OptionType = "CE" | "PE";

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
export interface Watched {
  kind: AlertKind;
  underlying: string;
  expiry: string | null;
  strike: number | null;
  option_type: OptionType | null;
  op: AlertOp;
  /** In the chain's unit: IV is a fraction (0.12 = 12 %). */
  level: number;
}

/** POST /api/alerts. */
export interface AlertRuleIn extends Watched {
  hysteresis: number;
  email: boolean;
  note: string;
}

/** A stored rule and where it stands. */
export interface AlertRule extends AlertRuleIn {
  id: number;
  created_at: string;
  armed: boolean | null;
  side: "above" | "below" | null;
  last_value: number | null;
  observed_at: string | null;
  crossings: number;
}

export interface AlertRules {
  rules: AlertRule[];
  max_rules: number;
  /** Whether this deployment e-mails alerts. */
  email: boolean;
}

/** A fired alert: the `alert` message's data, and (with delivery fields) an events row. */
export interface FiredAlert extends Watched {
  id: number;
  rule_id: number;
  crossing: number;
  value: number;
  previous: number | null;
  text: string;
  note: string;
  fired_at: string;
}

export interface AlertEvents {
  events: FiredAlert[];
  next: number | null;
}
