/**
 * Alerts (docs/alerts.md): the bell in the header and its panel. A rule is started from a chain
 * cell (right-click, or a long press, on an LTP, IV, OI or change-in-OI cell), from the header
 * (right-click on Spot, PCR or Max pain) or in the panel; the panel lists the user's rules with
 * where each stands, and the fired alerts: those of GET /api/alerts/events when the page opens
 * (what fired while it was closed) and those the WebSocket brings (ws/client.ts shows each as a
 * toast and, when allowed, a browser notification).
 */
import { useEffect, useState } from "react";
import { istDate, istDay, istTime } from "../clock";
import { compact, DASH, price } from "../format";
import { useAppDispatch, useAppSelector, useAppStore, useMarketClock } from "../hooks";
import type { RootState } from "../store";
import {
  useAlertEventsQuery,
  useAlertsQuery,
  useCreateAlertMutation,
  useDeleteAlertMutation,
} from "../store/alertsApi";
import {
  alertDraftChanged,
  alertDraftCleared,
  alertDraftStarted,
  alertEventsLoaded,
  alertsToggled,
  EMPTY_DRAFT,
  type AlertDraft,
} from "../store/alertsSlice";
import { selectStrikeIds } from "../store/selectors";
import {
  ALERT_KINDS,
  CONTRACT_KINDS,
  EXPIRY_KINDS,
  KIND_LABELS,
  type AlertKind,
  type AlertRule,
  type AlertRuleIn,
  type OptionType,
  type Watched,
} from "../alerts/types";
import { notifications } from "../alerts/notify";
import { AlertEmailSection } from "./AlertEmail";
import "./Alerts.css";

/** The chain's cells a rule can watch (their column names in ChainTable). */
const CELL_KINDS: readonly AlertKind[] = ["ltp", "iv", "oi", "oi_change"];
/** The header's figures a rule can watch, by their label (Panels.tsx ChainHeader). */
const HEADER_KINDS: Record<string, AlertKind> = { Spot: "spot", PCR: "pcr", "Max pain": "max_pain" };

/** IV is a fraction in the API and a percentage on screen (and in the form). */
function shownLevel(kind: AlertKind, value: number): string {
  if (kind === "iv") return String(Number((value * 100).toFixed(2)));
  if (kind === "pcr") return String(Number(value.toFixed(4)));
  return String(Number(value.toFixed(2)));
}

function formatValue(kind: AlertKind, value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return DASH;
  if (kind === "iv") return `${(value * 100).toFixed(2)}%`;
  if (kind === "oi" || kind === "oi_change") return compact(value);
  if (kind === "pcr") return value.toFixed(3);
  return price(value);
}

/** The number a draft watches in the chain on screen (null: not there). */
export function currentValue(state: RootState, kind: AlertKind, strike: number | null, side: OptionType): number | null {
  const meta = state.chain.meta;
  let v: unknown;
  if (kind === "spot") v = meta?.spot;
  else if (kind === "pcr") v = meta?.aggregates?.pcr_oi;
  else if (kind === "max_pain") v = meta?.aggregates?.max_pain;
  else if (strike !== null) v = state.chain.rows.entities[String(strike)]?.[side]?.[kind];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** A draft of `kind` with its level at the current value (what the user then moves). */
export function draftAt(state: RootState, kind: AlertKind, strike: number | null = null, side: OptionType = "CE"): Partial<AlertDraft> {
  const value = currentValue(state, kind, strike, side);
  return { kind, strike, option_type: side, level: value === null ? "" : shownLevel(kind, value) };
}

/** The draft a right-click on this element starts: a watched cell or header figure, else null. */
export function draftFromElement(target: Element, state: RootState): Partial<AlertDraft> | null {
  const cell = target.closest(".chain .row .c");
  if (cell) {
    const kind = CELL_KINDS.find((k) => cell.classList.contains(k));
    const side: OptionType | null = cell.classList.contains("CE") ? "CE" : cell.classList.contains("PE") ? "PE" : null;
    const strike = Number(cell.closest("[data-strike]")?.getAttribute("data-strike"));
    if (!kind || !side || !Number.isFinite(strike)) return null;
    return draftAt(state, kind, strike, side);
  }
  const stat = target.closest(".chain-header .stat");
  const kind = stat ? HEADER_KINDS[stat.querySelector("span")?.textContent?.trim() ?? ""] : undefined;
  return kind ? draftAt(state, kind) : null;
}

/** The API's body for a draft, or why there is none yet. */
export function ruleRequest(
  d: AlertDraft,
  where: { underlying: string; expiry: string | null },
): { body: AlertRuleIn } | { problem: string } {
  const level = Number(d.level);
  if (d.level.trim() === "" || !Number.isFinite(level)) return { problem: "a level" };
  const band = d.hysteresis.trim() === "" ? 0 : Number(d.hysteresis);
  if (!Number.isFinite(band) || band < 0) return { problem: "a hysteresis of 0 or more" };
  const contract = CONTRACT_KINDS.has(d.kind);
  const needsExpiry = contract || EXPIRY_KINDS.has(d.kind);
  if (needsExpiry && !where.expiry) return { problem: "an expiry (pick one above the chain)" };
  if (contract && d.strike === null) return { problem: "a strike" };
  const scale = d.kind === "iv" ? 0.01 : 1;
  return {
    body: {
      kind: d.kind,
      underlying: where.underlying,
      expiry: needsExpiry ? where.expiry : null,
      strike: contract ? d.strike : null,
      option_type: contract ? d.option_type : null,
      op: d.op,
      level: level * scale,
      hysteresis: band * scale,
      email: d.email,
      note: d.note.trim(),
    },
  };
}

/** "NIFTY 2026-12-01 24500 CE IV ↑ 15%". */
export function describeRule(r: Watched): string {
  const parts = [r.underlying, r.expiry, r.strike === null ? null : String(r.strike), r.option_type, KIND_LABELS[r.kind]];
  const arrow = r.op === "crosses_above" ? "↑" : "↓";
  return `${parts.filter(Boolean).join(" ")} ${arrow} ${formatValue(r.kind, r.level)}`;
}

/** Where a rule stands, in words. */
export function ruleState(r: AlertRule, today: string | null): string {
  if (r.expiry && today && r.expiry < today) return "expired: never fires";
  const fired = r.crossings ? ` · fired ${r.crossings}×` : "";
  if (r.armed === null) return `waiting for a first value${fired}`;
  if (r.armed) return `armed (now ${formatValue(r.kind, r.last_value)})${fired}`;
  return `across the level${fired}: re-arms once back`;
}

function problemText(error: unknown): string {
  const data = error && typeof error === "object" && "data" in error ? (error as { data: unknown }).data : null;
  const detail = data && typeof data === "object" ? (data as { detail?: unknown }).detail : null;
  if (typeof detail === "string") return detail;
  const status = error && typeof error === "object" && "status" in error ? String((error as { status: unknown }).status) : "";
  return `the alert could not be saved${status ? ` (${status})` : ""}`;
}

/** The bell: opens the panel; counts the alerts that arrived while it was closed. */
export function AlertsButton({ floating = false }: { floating?: boolean }) {
  const dispatch = useAppDispatch();
  const unseen = useAppSelector((s) => s.alerts.unseen);
  const open = useAppSelector((s) => s.alerts.open);
  return (
    <button
      className={`icon alerts-toggle${floating ? " floating" : ""}`}
      onClick={() => dispatch(alertsToggled())}
      title="Alerts (right-click a price, IV or OI cell, or Spot, PCR or Max pain, to set one)"
      aria-label="alerts"
      aria-expanded={open}
    >
      <svg viewBox="0 0 16 16" width="13" height="13" aria-hidden="true">
        <path d="M8 2a4 4 0 0 0-4 4v3L2.5 11.5h11L12 9V6a4 4 0 0 0-4-4zM6.5 13a1.5 1.5 0 0 0 3 0" fill="none" stroke="currentColor" strokeWidth="1.4" strokeLinejoin="round" />
      </svg>
      {unseen > 0 ? <span className="alerts-count" data-unseen={unseen}>{unseen}</span> : null}
    </button>
  );
}

/**
 * Alerts on the page, outside the header: the fired alerts loaded once (a reopened page lists
 * what fired meanwhile), a rule started from a right-clicked cell or header figure, the panel,
 * and on a phone the bell, floating (the header's controls fill its one row there).
 */
export function Alerts() {
  const dispatch = useAppDispatch();
  const store = useAppStore();
  const { data: page } = useAlertEventsQuery();
  useEffect(() => {
    if (page) dispatch(alertEventsLoaded(page.events));
  }, [page, dispatch]);
  useEffect(() => {
    const onMenu = (e: MouseEvent) => {
      if (!(e.target instanceof Element)) return;
      const draft = draftFromElement(e.target, store.getState());
      if (!draft) return;
      e.preventDefault();
      dispatch(alertDraftStarted(draft));
    };
    document.addEventListener("contextmenu", onMenu);
    return () => document.removeEventListener("contextmenu", onMenu);
  }, [store, dispatch]);
  return (
    <>
      <AlertsButton floating />
      <AlertsPanel />
    </>
  );
}

function RuleForm({ draft, email }: { draft: AlertDraft; email: boolean }) {
  const dispatch = useAppDispatch();
  const store = useAppStore();
  const underlying = useAppSelector((s) => s.ui.underlying);
  const expiry = useAppSelector((s) => s.chain.expiry);
  const strikes = useAppSelector(selectStrikeIds);
  const now = useAppSelector((s) => currentValue(s, draft.kind, draft.strike, draft.option_type));
  const [create, { isLoading, error, reset }] = useCreateAlertMutation();
  const request = ruleRequest(draft, { underlying, expiry });
  const change = (patch: Partial<AlertDraft>) => {
    reset();
    dispatch(alertDraftChanged(patch));
  };
  const contract = CONTRACT_KINDS.has(draft.kind);
  const unit = draft.kind === "iv" ? "%" : "";
  return (
    <form
      className="alert-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (!("body" in request)) return;
        void create(request.body)
          .unwrap()
          .then(() => dispatch(alertDraftCleared()))
          .catch(() => undefined); // the error is shown below
      }}
    >
      <div className="fields">
        <select
          aria-label="watch"
          value={draft.kind}
          onChange={(e) => change(draftAt(store.getState(), e.target.value as AlertKind, draft.strike, draft.option_type))}
        >
          {ALERT_KINDS.map((k) => (
            <option key={k} value={k}>{KIND_LABELS[k]}</option>
          ))}
        </select>
        {contract ? (
          <>
            <select
              aria-label="strike"
              value={draft.strike ?? ""}
              onChange={(e) => change(draftAt(store.getState(), draft.kind, e.target.value ? Number(e.target.value) : null, draft.option_type))}
            >
              <option value="">strike</option>
              {strikes.map((k) => (
                <option key={k} value={k}>{k}</option>
              ))}
            </select>
            <select
              aria-label="option type"
              value={draft.option_type}
              onChange={(e) => change(draftAt(store.getState(), draft.kind, draft.strike, e.target.value as OptionType))}
            >
              <option value="CE">CE</option>
              <option value="PE">PE</option>
            </select>
          </>
        ) : null}
        <select aria-label="direction" value={draft.op} onChange={(e) => change({ op: e.target.value as AlertDraft["op"] })}>
          <option value="crosses_above">crosses above</option>
          <option value="crosses_below">crosses below</option>
        </select>
        <label className="level">
          <input aria-label="level" inputMode="decimal" value={draft.level} onChange={(e) => change({ level: e.target.value })} />
          {unit}
        </label>
      </div>
      <div className="where">
        {underlying}
        {contract || EXPIRY_KINDS.has(draft.kind) ? ` ${expiry ?? DASH}` : ""} · now {formatValue(draft.kind, now)}
      </div>
      <div className="fields">
        <label title="How far back beyond the level the value must go before the rule can fire again">
          re-arm band{" "}
          <input aria-label="hysteresis" inputMode="decimal" placeholder="0" value={draft.hysteresis} onChange={(e) => change({ hysteresis: e.target.value })} />
          {unit}
        </label>
        <label title={email ? "Also e-mail it (to the address subscribed for you)" : "This deployment sends no e-mail"}>
          <input type="checkbox" checked={draft.email} disabled={!email} onChange={(e) => change({ email: e.target.checked })} />
          e-mail
        </label>
      </div>
      <input aria-label="note" placeholder="note (optional)" maxLength={80} value={draft.note} onChange={(e) => change({ note: e.target.value })} />
      <div className="actions">
        <button type="submit" disabled={!("body" in request) || isLoading} title={"problem" in request ? `Needs ${request.problem}` : undefined}>
          Set alert
        </button>
        <button type="button" onClick={() => dispatch(alertDraftCleared())}>Cancel</button>
      </div>
      {error ? <p className="problem" role="alert">{problemText(error)}</p> : null}
    </form>
  );
}

function NotificationsSwitch() {
  const api = notifications();
  const [permission, setPermission] = useState(api?.permission ?? "denied");
  if (!api) return null;
  if (permission === "granted") return <p className="note">Browser notifications are on.</p>;
  if (permission === "denied") return <p className="note">Browser notifications are blocked for this site.</p>;
  return (
    <button type="button" className="notify" onClick={() => void api.requestPermission().then(setPermission)}>
      Enable browser notifications
    </button>
  );
}

/** The panel: the rule being drafted, the user's rules, the fired alerts. */
export function AlertsPanel() {
  const dispatch = useAppDispatch();
  const open = useAppSelector((s) => s.alerts.open);
  const draft = useAppSelector((s) => s.alerts.draft);
  const fired = useAppSelector((s) => s.alerts.fired);
  const clock = useMarketClock(60_000);
  const today = clock === null ? null : istDate(clock);
  const { data, error, refetch } = useAlertsQuery(undefined, { skip: !open });
  const [remove] = useDeleteAlertMutation();
  // A fire moves its rule's state (disarmed, one more crossing): list it anew.
  const newest = fired[0]?.id;
  useEffect(() => {
    if (open && newest !== undefined) void refetch();
  }, [open, newest, refetch]);
  if (!open) return null;
  const rules = data?.rules ?? [];
  return (
    <aside
      className="panel alerts"
      aria-label="alerts"
      role="dialog"
      tabIndex={-1}
      onKeyDown={(e) => {
        if (e.key === "Escape") dispatch(alertsToggled(false));
      }}
    >
      <header>
        <h3>Alerts</h3>
        <button type="button" className="icon" aria-label="close alerts" onClick={() => dispatch(alertsToggled(false))}>×</button>
      </header>
      <NotificationsSwitch />
      <AlertEmailSection email={data?.email ?? false} />
      {draft ? (
        <RuleForm draft={draft} email={data?.email ?? false} />
      ) : (
        <button type="button" onClick={() => dispatch(alertDraftStarted(EMPTY_DRAFT))}>New alert…</button>
      )}
      <h4>
        Rules {data ? `(${rules.length} of ${data.max_rules})` : ""}
      </h4>
      {error ? <p className="problem" role="alert">{problemText(error)}</p> : null}
      <ul className="rules">
        {rules.map((r) => (
          <li key={r.id} data-rule={r.id} className={r.expiry && today && r.expiry < today ? "expired" : undefined}>
            <div>
              <b>{describeRule(r)}</b>
              {r.email ? <span className="tag">e-mail</span> : null}
              {r.note ? <span className="rule-note">{r.note}</span> : null}
              <small>{ruleState(r, today)}</small>
            </div>
            <button type="button" aria-label={`delete alert ${r.id}`} onClick={() => void remove(r.id)}>Delete</button>
          </li>
        ))}
        {data && !rules.length ? <li className="none">No rules yet: right-click a price, IV or OI cell, or Spot, PCR or Max pain.</li> : null}
      </ul>
      <h4>Fired</h4>
      <ul className="fired">
        {fired.map((a) => (
          <li key={a.id} data-fired={a.id}>
            <time dateTime={a.fired_at}>
              {today && istDate(Date.parse(a.fired_at)) !== today ? `${istDay(a.fired_at)} ` : ""}
              {istTime(a.fired_at)}
            </time>{" "}
            {a.text}
            {a.note ? <span className="rule-note">{a.note}</span> : null}
          </li>
        ))}
        {!fired.length ? <li className="none">Nothing fired yet.</li> : null}
      </ul>
    </aside>
  );
}
