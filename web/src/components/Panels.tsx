/** The smaller parts of the dashboard: market bar, badge, banners, tabs, header, settings, toasts. */
import { memo, useEffect, useRef, useState, type ReactNode } from "react";
import { IvRank } from "./IvRank";
import { Stat } from "./Stat";
import { SHORTCUTS } from "../keys";
import { compact, DASH, pct, price, signed } from "../format";
import { useAppDispatch, useAppSelector, useAppStore, useMarketClock, useMarketNow, useNow } from "../hooks";
import { formatDte, istDate, istDay, istTime, sessionText, tabDaysToExpiry, valuationMs } from "../clock";
import { columnToggled, prefsChanged, themeToggled } from "../store/prefsSlice";
import { badgeFor, type Badge } from "../store/selectors";
import { panelClosed, panelToggled, timeTravel, toastDismissed } from "../store/uiSlice";
import { getAuth, kiteLoginUrl, setToken } from "../auth";
import {
  COLUMN_KEYS,
  type ExpiryInfo,
  type Health,
  type MarketInstrument,
  type SnapshotMeta,
  type UnderlyingInfo,
} from "../types";
import { useIntradayQuery, useMarketAtQuery } from "../store/api";
import { COLUMNS } from "../format";
import { formatIstMinute, parseIstMinute } from "../minute";
import { MinuteInput } from "./MinuteInput";

/** One quote; `short` is its name on a phone ("NIFTY", "FUT", "VIX"), where the change is in %. */
const Quote = memo(function Quote({ name, short, q }: { name: string; short: string; q: MarketInstrument | undefined }) {
  const chg = q?.change ?? null;
  const cls = chg === null || chg === 0 ? "" : chg > 0 ? "pos" : "neg";
  return (
    <div className="quote" data-name={name}>
      <span className="name" title={name}>
        <span className="long">{name}</span>
        <span className="short">{short}</span>
      </span>
      <span className="ltp">{price(q?.ltp)}</span>
      <span className={`chg ${cls}`}>
        <span className="abs">{signed(chg)}</span>{" "}
        <span className="pct">{signed(q?.change_pct ?? null, (x) => x.toFixed(2))}%</span>
      </span>
    </div>
  );
});

const NO_QUOTES: Record<string, MarketInstrument> = {};

/**
 * The underlying's spot, near future and volatility index (NIFTY's until `info` is known): live,
 * or in history mode the chosen minute's (GET /market?at=), never live numbers beside a past
 * chain. A minute without archived quotes shows dashes and says so.
 */
export function MarketBar({ info }: { info?: UnderlyingInfo }) {
  const live = useAppSelector((s) => s.market.instruments);
  const at = useAppSelector((s) => s.ui.at);
  const name = info?.name ?? "NIFTY";
  const past = useMarketAtQuery({ underlying: name, at: at ?? "" }, { skip: !at });
  const instruments = at ? (past.currentData?.instruments ?? NO_QUOTES) : live;
  const spot = info?.spot_symbol ?? "NIFTY 50";
  const vix = info ? info.vix_symbol : "INDIA VIX";
  // The feed's names: NIFTY's futures "FUT <expiry>", the others' "<NAME> FUT <expiry>".
  const prefix = name === "NIFTY" ? "FUT " : `${name} FUT `;
  const futName = Object.keys(instruments)
    .filter((n) => n.startsWith(prefix))
    .sort()[0];
  let title: string | undefined;
  if (at) title = past.isError ? `No quotes archived at ${istDay(at)} ${istTime(at)} IST` : `Quotes at ${istDay(at)} ${istTime(at)} IST`;
  return (
    <div className="market" data-source={at ? "history" : "live"} title={title}>
      <Quote name={spot} short={name} q={instruments[spot]} />
      {futName ? <Quote name={futName} short="FUT" q={instruments[futName]} /> : null}
      {vix ? <Quote name={vix} short="VIX" q={instruments[vix]} /> : null}
    </div>
  );
}

const BADGE_TEXT: Record<Badge, string> = {
  live: "Live",
  connecting: "Connecting",
  reconnecting: "Reconnecting",
  polling: "Polling",
  stale: "Stale",
  closed: "Market closed",
  history: "History",
};

export function ConnectionBadge() {
  const now = useNow(1000);
  const store = useAppStore();
  // Reads the whole state once a second (or when the connection changes): cheap.
  useAppSelector((s) => s.ui.connection);
  useAppSelector((s) => s.market.marketOpen);
  const badge = badgeFor(store.getState(), now);
  return (
    <span className={`badge badge-${badge}`} role="status" data-badge={badge}>
      <i />
      {BADGE_TEXT[badge]}
    </span>
  );
}

export function Banners({ health }: { health: Health | undefined }) {
  const now = useNow(1000);
  const store = useAppStore();
  const unauthorized = useAppSelector((s) => s.ui.unauthorized);
  const at = useAppSelector((s) => s.ui.at);
  const meta = useAppSelector((s) => s.chain.meta);
  const session = useAppSelector((s) => s.market.session);
  const badge = badgeFor(store.getState(), now);
  let sessionLine = sessionText(session);
  // The data's own stamp when it is not from that session (e.g. the simulator replaying a day).
  if (sessionLine && session && typeof meta?.ts === "number" && istDate(meta.ts * 1000) !== session.last_session) {
    sessionLine += ` · data stamped ${istDay(meta.ts * 1000)} ${istTime(meta.ts * 1000)} IST`;
  }
  const [token, setTokenText] = useState("");
  const out: React.ReactNode[] = [];
  if (unauthorized && getAuth().mode === "dev") {
    out.push(
      <div className="banner error" key="auth">
        The API refused the access token. Paste the token printed by <code>strikeboard dev</code>:
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (token.trim()) {
              setToken(token.trim());
              window.location.reload();
            }
          }}
        >
          <input value={token} onChange={(e) => setTokenText(e.target.value)} placeholder="token" aria-label="token" />
          <button type="submit">Use token</button>
        </form>
      </div>,
    );
  } else if (unauthorized) {
    out.push(
      <div className="banner error" key="auth">
        The API refused your sign-in (is this account allowed to use this deployment?).{" "}
        <button onClick={() => getAuth().signOut()}>Sign out</button>
      </div>,
    );
  }
  const kite = health?.feed?.token;
  if (kite === "expired" || kite === "waiting") out.push(<KiteBanner key="kite" state={kite} />);
  if (at) {
    out.push(<HistoryBanner key="history" at={at} />);
  } else if (sessionLine) {
    // Closed or a holiday: the data on screen is the last session's, whatever its age.
    out.push(
      <div
        className="banner info session"
        key="session"
        data-session={session?.state}
        title={meta?.ts ? `data as of ${istDay(meta.ts * 1000)} ${istTime(meta.ts * 1000)} IST` : undefined}
      >
        {sessionLine}
      </div>,
    );
  } else if (badge === "closed") {
    out.push(
      <div className="banner info" key="closed">
        Market closed: showing the last session
        {meta?.ts ? ` (as of ${istDay(meta.ts * 1000)} ${istTime(meta.ts * 1000)} IST)` : ""}.
      </div>,
    );
  } else if (badge === "stale") {
    const age = meta?.age_s ?? null;
    out.push(
      <div className="banner warn" key="stale">
        Data is stale{age !== null ? ` (${Math.round(age)} s old)` : ""}: the feed is not updating.
      </div>,
    );
  } else if (badge === "reconnecting" || badge === "polling") {
    out.push(
      <div className="banner warn" key="conn">
        Live connection lost: {badge === "polling" ? "updating over REST every 2 s" : "reconnecting"}…
      </div>,
    );
  }
  return <div className="banners">{out}</div>;
}

/** "Mon 30 Nov 10:00 IST" for an instant (ms or ISO). */
function istMinute(t: number | string): string {
  return `${istDay(t)} ${istTime(t)} IST`;
}

/** The minute of the chain on screen (ms): the archive's `minute`, else the market time `ts`. */
function chainMinuteMs(meta: SnapshotMeta | null): number | null {
  if (typeof meta?.minute === "string" && Number.isFinite(Date.parse(meta.minute))) return Date.parse(meta.minute);
  return typeof meta?.ts === "number" ? meta.ts * 1000 : null;
}

/**
 * History mode's banner: what the API answered for the minute asked for. No data there is said
 * in the API's words, with the nearest minute that has data when known (the API's `nearest`,
 * else that day's first archived minute after it); an earlier minute's chain says whose it is.
 */
export function HistoryBanner({ at }: { at: string }) {
  const dispatch = useAppDispatch();
  const status = useAppSelector((s) => s.ui.history);
  const meta = useAppSelector((s) => s.chain.meta);
  const expiry = useAppSelector((s) => s.chain.expiry);
  const underlying = useAppSelector((s) => s.ui.underlying);
  const asked = Date.parse(at);
  const shown = status?.state === "loaded" ? chainMinuteMs(meta) : null;
  const earlier = shown !== null && Math.floor(shown / 60_000) < Math.floor(asked / 60_000);
  const lookAfter = (status?.state === "missing" && !status.nearest) || earlier;
  // The same query as the intraday charts' (one request): the day's minutes with data.
  const { data: day } = useIntradayQuery(
    { expiry: expiry ?? "", underlying, date: istDate(asked) },
    { skip: !lookAfter || !expiry || !Number.isFinite(asked) },
  );
  let nearest = status?.nearest ?? null;
  if (!nearest && lookAfter) nearest = day?.find((p) => Date.parse(p.minute) > asked)?.minute ?? null;
  const live = <button onClick={() => dispatch(timeTravel(null))}>Back to live</button>;
  const offer = nearest ? (
    <button onClick={() => dispatch(timeTravel(nearest))} data-nearest={nearest}>
      Show {istMinute(nearest)}
    </button>
  ) : null;
  const state = status?.state ?? "loading";
  let text: string;
  if (state === "missing") {
    text = `No data at ${istMinute(asked)}${status?.detail ? `: the API says “${status.detail}”` : ""}.`;
  } else if (state === "failed") {
    text = `The chain at ${istMinute(asked)} could not be loaded${status?.detail ? ` (${status.detail})` : ""}.`;
  } else if (state === "loading") {
    text = `Loading the chain at ${istMinute(asked)}…`;
  } else if (earlier && shown !== null) {
    text = `No data at ${istMinute(asked)}: showing the last minute before it, ${istMinute(shown)}.`;
  } else {
    text = `Showing the chain as it was at ${istMinute(shown ?? asked)}.`;
  }
  const cls = state === "missing" || state === "failed" || earlier ? "warn" : "info";
  return (
    <div className={`banner ${cls} history-banner`} data-history={earlier ? "earlier" : state} role="status">
      {text} {offer} {live}
    </div>
  );
}

/**
 * The feed has no Kite session (waiting for the day's login, or expired): a Kite login button.
 * The API allows it to admins only; anyone else is told so here.
 */
function KiteBanner({ state }: { state: "expired" | "waiting" }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const login = async () => {
    setBusy(true);
    setError(null);
    try {
      window.location.assign(await kiteLoginUrl());
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      setBusy(false);
    }
  };
  return (
    <div className="banner error kite" data-kite={state}>
      {state === "expired" ? "The Kite session has expired: live data has stopped." : "The feed is waiting for the day's Kite login: no live data yet."}{" "}
      <button onClick={() => void login()} disabled={busy}>
        Kite login
      </button>
      {error ? (
        <span className="kite-error" role="alert">
          {" "}
          {error}
        </span>
      ) : null}
    </div>
  );
}

export function ExpiryTabs({
  expiries,
  current,
  onSelect,
}: {
  expiries: ExpiryInfo[];
  current: string | null;
  onSelect: (e: string) => void;
}) {
  // Days to expiry counted from the instant the chain on screen was valued at (the header's
  // DTE), else from the market's clock: never from the browser's.
  const meta = useAppSelector((s) => s.chain.meta);
  const at = useAppSelector((s) => s.ui.at);
  const marketNow = useMarketClock(15_000);
  // In history mode without a chain (no data at that minute) the minute asked for.
  const now = at && Number.isFinite(Date.parse(at)) ? Date.parse(at) : marketNow;
  const asOf = valuationMs(meta) ?? now;
  const from = asOf === null ? "the API's clock" : `${istDay(asOf)} ${istTime(asOf)} IST`;
  return (
    <nav className="expiries" aria-label="expiries" title={`days to 15:30 IST of each expiry, from ${from}`}>
      {expiries.map((e) => {
        const days = formatDte(tabDaysToExpiry(e.expiry, meta, now, e.days_to_expiry));
        return (
          <button
            key={e.expiry}
            className={`tab${e.expiry === current ? " active" : ""}`}
            aria-pressed={e.expiry === current}
            data-expiry={e.expiry}
            onClick={() => onSelect(e.expiry)}
            title={`${e.kind} expiry, lot ${e.lot_size}`}
          >
            {new Date(`${e.expiry}T00:00:00Z`).toLocaleDateString("en-IN", { day: "2-digit", month: "short", timeZone: "UTC" })}
            <small data-dte={days}>
              {days}d{e.kind === "monthly" ? " M" : ""}
            </small>
          </button>
        );
      })}
    </nav>
  );
}

export function ChainHeader() {
  const meta = useAppSelector((s) => s.chain.meta);
  const convention = useAppSelector((s) => s.prefs.convention);
  const dispatch = useAppDispatch();
  const a = meta?.aggregates ?? {};
  return (
    <div className="chain-header">
      <Stat label="Spot" value={price(meta?.spot)} />
      <Stat label="Forward" value={price(meta?.forward)} title="Forward from put-call parity" />
      <Stat label="PCR" value={a.pcr_oi == null ? DASH : a.pcr_oi.toFixed(2)} title="Put-call ratio of OI" />
      <Stat label="Max pain" value={a.max_pain == null ? DASH : String(a.max_pain)} />
      <Stat label="ATM IV" value={pct(a.atm_iv)} />
      <IvRank />
      <Stat label="Straddle" value={price(a.atm_straddle)} />
      <Stat label="Exp. move" value={a.expected_move == null ? DASH : `±${price(a.expected_move)}`} />
      <Stat label="Lot" value={meta?.lot_size == null ? DASH : String(meta.lot_size)} />
      <Stat label="DTE" value={formatDte(meta?.days_to_expiry)} title="Days to 15:30 IST of the expiry day" dte />
      <Stat label="Call / Put OI" value={`${compact(a.call_oi)} / ${compact(a.put_oi)}`} wide />
      <div className="switch" role="group" aria-label="IV convention">
        {(["forward", "nse"] as const).map((c) => (
          <button
            key={c}
            className={convention === c ? "active" : ""}
            aria-pressed={convention === c}
            onClick={() => dispatch(prefsChanged({ convention: c }))}
            title={c === "forward" ? "IV from the parity forward (Black-76)" : "IV NSE-style (spot, fixed rate)"}
          >
            {c === "forward" ? "Forward IV" : "NSE IV"}
          </button>
        ))}
      </div>
    </div>
  );
}

export function HistoryPicker() {
  const at = useAppSelector((s) => s.ui.at);
  // Remounted when the shown minute changes, so the input starts from it.
  return <HistoryForm key={at ?? "live"} at={at} />;
}

function HistoryForm({ at }: { at: string | null }) {
  const dispatch = useAppDispatch();
  const [value, setValue] = useState(at ? formatIstMinute(at) : "");
  // The latest minute one can travel to: the market's now.
  const now = useMarketNow(60_000);
  const iso = parseIstMinute(value);
  const ok = iso !== null && Date.parse(iso) <= now;
  return (
    <form
      className="history"
      onSubmit={(e) => {
        e.preventDefault();
        if (!ok) return;
        dispatch(timeTravel(iso));
        dispatch(panelClosed("history"));
      }}
    >
      <MinuteInput value={value} onChange={setValue} max={now} label="past minute (IST)" />
      <button type="submit" disabled={!ok}>Go</button>
      {at ? (
        <button type="button" onClick={() => dispatch(timeTravel(null))}>
          Live
        </button>
      ) : null}
    </form>
  );
}

/**
 * A panel over the dashboard: it takes the focus when it opens (its checkboxes and buttons are
 * a Tab away; Esc closes it from anywhere, keys.ts) and gives it back when it closes.
 */
function PanelFrame({ className, label, children }: { className: string; label: string; children: ReactNode }) {
  const ref = useRef<HTMLElement>(null);
  useEffect(() => {
    const el = ref.current;
    const before = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    el?.focus();
    return () => {
      const active = document.activeElement;
      const lost = !active || active === document.body || (el !== null && el.contains(active));
      if (lost && before?.isConnected) before.focus();
    };
  }, []);
  return (
    <aside ref={ref} className={`panel ${className}`} aria-label={label} role="dialog" tabIndex={-1}>
      {children}
    </aside>
  );
}

/** The `?` overlay: the keyboard shortcuts (keys.ts's table). */
export function Help() {
  const open = useAppSelector((s) => s.ui.panel === "help");
  const dispatch = useAppDispatch();
  if (!open) return null;
  return (
    <PanelFrame className="help" label="keyboard shortcuts">
      <h3>Keyboard shortcuts</h3>
      <dl className="shortcuts">
        {SHORTCUTS.map((s) => (
          <div key={s.what}>
            <dt>
              {s.keys.map((k, i) => (
                <span key={k}>
                  {i ? " " : ""}
                  <kbd>{k}</kbd>
                </span>
              ))}
            </dt>
            <dd>{s.what}</dd>
          </div>
        ))}
      </dl>
      <p className="keys">In the minute field (dd-mm-yyyy hh:mm, IST): ↑/↓ step a minute, with Shift an hour.</p>
      <p className="keys">The address bar holds the view (expiry, minute, IV convention, panel): copy it to share it.</p>
      <button onClick={() => dispatch(panelToggled(null))}>Close</button>
    </PanelFrame>
  );
}

export function Settings({ expiries }: { expiries: ExpiryInfo[] }) {
  const prefs = useAppSelector((s) => s.prefs);
  const open = useAppSelector((s) => s.ui.panel === "settings");
  const dispatch = useAppDispatch();
  if (!open) return null;
  return (
    <PanelFrame className="settings" label="settings">
      <h3>Columns</h3>
      <div className="cols">
        {COLUMN_KEYS.map((c) => (
          <label key={c}>
            <input type="checkbox" checked={prefs.columns.includes(c)} onChange={() => dispatch(columnToggled(c))} />
            {COLUMNS[c].title}
          </label>
        ))}
      </div>
      <label>
        Strikes each side of ATM{" "}
        <input
          type="number"
          min={1}
          max={100}
          value={prefs.strikes}
          onChange={(e) => dispatch(prefsChanged({ strikes: Number(e.target.value) }))}
        />
      </label>
      <label>
        Default expiry{" "}
        <select
          value={prefs.default_expiry ?? ""}
          onChange={(e) => dispatch(prefsChanged({ default_expiry: e.target.value || null }))}
        >
          <option value="">nearest</option>
          {expiries.map((e) => (
            <option key={e.expiry} value={e.expiry}>{e.expiry}</option>
          ))}
        </select>
      </label>
      <label>
        Smile IV leg{" "}
        <select value={prefs.iv_leg} onChange={(e) => dispatch(prefsChanged({ iv_leg: e.target.value as "otm" }))}>
          <option value="otm">out of the money</option>
          <option value="call">calls</option>
          <option value="put">puts</option>
        </select>
      </label>
      <label>
        <input type="checkbox" checked={prefs.theme === "light"} onChange={() => dispatch(themeToggled())} /> Light theme
      </label>
      <label title="A changed price or OI flashes its changed digits, at most once a second per cell">
        <input
          type="checkbox"
          aria-label="flash changes"
          checked={prefs.flash}
          onChange={() => dispatch(prefsChanged({ flash: !prefs.flash }))}
        />{" "}
        Flash changed digits
      </label>
      <p className="keys">
        Keys: ↑/↓ strike, [ / ] expiry, t theme, ? all keys, Esc close.
      </p>
      <button onClick={() => dispatch(panelToggled(null))}>Close</button>
    </PanelFrame>
  );
}

export function Toasts() {
  const toasts = useAppSelector((s) => s.ui.toasts);
  const dispatch = useAppDispatch();
  useEffect(() => {
    if (!toasts.length) return;
    const first = toasts[0]!;
    const t = setTimeout(() => dispatch(toastDismissed(first.id)), 6000);
    return () => clearTimeout(t);
  }, [toasts, dispatch]);
  return (
    <div className="toasts" aria-live="polite">
      {toasts.map((t) => (
        <div key={t.id} className={`toast ${t.kind}`} onClick={() => dispatch(toastDismissed(t.id))}>
          {t.text}
        </div>
      ))}
    </div>
  );
}
