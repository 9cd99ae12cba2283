/** The dashboard: wiring of data sources to the view, keyboard navigation, theme. */
import { useEffect, useLayoutEffect, useMemo } from "react";
import { ChainTable } from "./components/ChainTable";
import { ChainLegend } from "./components/legend";
import { IntradayCharts, StrikeCharts } from "./components/Charts";
import {
  Banners,
  ChainHeader,
  ConnectionBadge,
  ExpiryTabs,
  HistoryPicker,
  MarketBar,
  Help,
  Settings,
  Toasts,
} from "./components/Panels";
import { Alerts, AlertsButton } from "./components/Alerts";
import { ExportChain } from "./components/ExportChain";
import { ReplayBar } from "./components/ReplayBar";
import { Account } from "./components/SignIn";
import { StrategyBuilder } from "./components/StrategyBuilder";
import { Tools } from "./components/Tools";
import { UnderlyingSwitcher } from "./components/UnderlyingSwitcher";
import { useAppDispatch, useAppSelector, useAppStore } from "./hooks";
import {
  historyFailure,
  useChainQuery,
  useExpiriesQuery,
  useHealthQuery,
  useMarketQuery,
  usePreferencesQuery,
  useUnderlyingsQuery,
} from "./store/api";
import { expirySelected, snapshotReceived } from "./store/chainSlice";
import { healthReceived, marketReceived } from "./store/marketSlice";
import { prefsLoaded, themeToggled } from "./store/prefsSlice";
import { historyAnswered, panelToggled, unauthorizedChanged } from "./store/uiSlice";
import { keyAction } from "./keys";
import type { ExpiryInfo, UnderlyingInfo } from "./types";
import type { LiveClient } from "./ws/client";
import { viewApplied, type View } from "./store/view";

const EMPTY: ExpiryInfo[] = [];
const NONE: UnderlyingInfo[] = [];

export function App({ client, initialView = {} }: { client: LiveClient; initialView?: Partial<View> }) {
  const dispatch = useAppDispatch();
  const store = useAppStore();
  const theme = useAppSelector((s) => s.prefs.theme);
  const convention = useAppSelector((s) => s.prefs.convention);
  const strikes = useAppSelector((s) => s.prefs.strikes);
  const defaultExpiry = useAppSelector((s) => s.prefs.default_expiry);
  const expiry = useAppSelector((s) => s.chain.expiry);
  const at = useAppSelector((s) => s.ui.at);
  const panel = useAppSelector((s) => s.ui.panel);
  const underlying = useAppSelector((s) => s.ui.underlying);

  const { data: health, fulfilledTimeStamp: healthAt } = useHealthQuery(undefined, { pollingInterval: 5_000 });
  const { data: expiryList } = useExpiriesQuery(underlying, { pollingInterval: 60_000 });
  const expiries = expiryList ?? EMPTY;
  const { data: market } = useMarketQuery();
  const { data: underlyingList } = useUnderlyingsQuery();
  const underlyings = underlyingList ?? NONE;
  const { data: serverPrefs, isSuccess: prefsOk } = usePreferencesQuery();

  // The server's preferences, but the convention a link asked for stays the view's.
  const linkConvention = initialView.convention;
  useEffect(() => {
    if (serverPrefs) dispatch(prefsLoaded(linkConvention ? { ...serverPrefs, convention: linkConvention } : serverPrefs));
  }, [serverPrefs, linkConvention, dispatch]);
  useEffect(() => {
    if (prefsOk || health) dispatch(unauthorizedChanged(false));
  }, [prefsOk, health, dispatch]);
  useEffect(() => {
    if (market) {
      dispatch(
        marketReceived({ instruments: market.instruments, marketOpen: market.market_open, stale: market.stale }),
      );
    }
  }, [market, dispatch]);
  // The market's clock and session: every health answer resets the offset to the API's `now`.
  useEffect(() => {
    if (health) dispatch(healthReceived({ health, receivedAt: healthAt ?? Date.now() }));
  }, [health, healthAt, dispatch]);

  // Pick an expiry when the view has none (or a live view an expired one): the preferred one if
  // listed, else the nearest. A past minute may show an expiry that is no longer live.
  useEffect(() => {
    if (!expiries.length) return;
    if (expiry && (at || expiries.some((e) => e.expiry === expiry))) return;
    const preferred = expiries.find((e) => e.expiry === defaultExpiry);
    dispatch(viewApplied({ expiry: (preferred ?? expiries[0]!).expiry }));
  }, [expiries, expiry, at, defaultExpiry, dispatch]);

  // Live stream of the selected expiry, none while looking at the past.
  useEffect(() => {
    client.setExpiry(at ? null : expiry, underlying);
  }, [client, expiry, at, underlying]);

  // NSE-style Greeks are computed by the API: re-fetch on switch and every 5 s.
  useEffect(() => {
    if (at) return;
    client.refresh();
    if (convention !== "nse") return;
    const t = setInterval(() => client.refresh(), 5_000);
    return () => clearInterval(t);
  }, [client, convention, at]);

  // Time travel: the chain as it was at a past minute.
  const past = useChainQuery(
    { expiry: expiry ?? "", underlying, convention, strikes, at },
    { skip: !at || !expiry },
  );
  // Only this minute's answer (`currentData`, not the previous minute's while this one loads);
  // no data there is said so, with no other time's chain under it.
  useEffect(() => {
    if (!at) return;
    if (past.currentData) {
      dispatch(snapshotReceived({ snapshot: past.currentData, source: "history", convention }));
      dispatch(historyAnswered({ state: "loaded", detail: null, nearest: null }));
    } else if (past.error) {
      dispatch(historyAnswered(historyFailure(past.error)));
    } else {
      dispatch(historyAnswered({ state: "loading", detail: null, nearest: null }));
    }
  }, [at, past.currentData, past.error, convention, dispatch]);

  // A layout effect: it runs before the charts' effects, which read the theme's colours.
  useLayoutEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);

  // Keyboard (keys.ts): arrows move the selected strike, [ and ] switch expiry, t the theme,
  // ? lists the keys, Esc closes the open panel from anywhere.
  useEffect(() => {
    const list = expiries.map((x) => x.expiry);
    const onKey = (e: KeyboardEvent) => {
      const action = keyAction(e, store.getState(), list);
      if (!action) return;
      e.preventDefault();
      dispatch(action);
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [store, dispatch, expiries]);

  const side = useMemo(() => (expiry ? <IntradayCharts expiry={expiry} theme={theme} /> : null), [expiry, theme]);

  return (
    <div className="app">
      <header className={`top${panel === "history" ? " history-open" : ""}`}>
        <h1>
          Strike<span>board</span>
        </h1>
        <UnderlyingSwitcher underlyings={underlyings} />
        <MarketBar info={underlyings.find((u) => u.name === underlying)} />
        <div className="spacer" />
        <HistoryPicker />
        <ConnectionBadge />
        <ExportChain />
        <AlertsButton />
        <button
          className="icon history-toggle"
          onClick={() => dispatch(panelToggled("history"))}
          title="A past minute"
          aria-label="time travel"
          aria-expanded={panel === "history"}
        >
          <svg viewBox="0 0 16 16" width="13" height="13" aria-hidden="true">
            <circle cx="8" cy="8" r="6.5" fill="none" stroke="currentColor" strokeWidth="1.5" />
            <path d="M8 4.5V8l2.5 1.5" fill="none" stroke="currentColor" strokeWidth="1.5" strokeLinecap="round" />
          </svg>
        </button>
        <button className="icon" onClick={() => dispatch(themeToggled())} title="Toggle theme (t)" aria-label="toggle theme">
          {theme === "dark" ? "☀" : "☾"}
        </button>
        <button
          className="icon help-toggle"
          onClick={() => dispatch(panelToggled("help"))}
          title="Keyboard shortcuts (?)"
          aria-label="keyboard shortcuts"
          aria-expanded={panel === "help"}
        >
          ?
        </button>
        <button className="icon" onClick={() => dispatch(panelToggled("settings"))} title="Settings" aria-label="settings" aria-expanded={panel === "settings"}>
          ⚙
        </button>
        <Account />
      </header>
      <Banners health={health} />
      <ReplayBar />
      <ExpiryTabs expiries={expiries} current={expiry} onSelect={(e) => dispatch(expirySelected(e))} />
      <ChainHeader />
      <main className="grid">
        <section className="chain-panel">
          <ChainLegend />
          <ChainTable />
        </section>
        <section className="side-panel">
          <StrikeCharts theme={theme} />
          {side}
        </section>
      </main>
      <StrategyBuilder />
      <Tools theme={theme} />
      <Alerts />
      <Settings expiries={expiries} />
      <Help />
      <Toasts />
    </div>
  );
}
