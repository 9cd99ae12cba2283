/** Typed Redux hooks and small timing hooks. */
import { useEffect, useRef, useState } from "react";
import { useDispatch, useSelector, useStore } from "react-redux";
import { istDate, serverNow } from "./clock";
import type { AppDispatch, AppStore, RootState } from "./store";

export const useAppDispatch = useDispatch.withTypes<AppDispatch>();
export const useAppSelector = useSelector.withTypes<RootState>();
export const useAppStore = useStore.withTypes<AppStore>();

/** The browser's time, re-read every `ms`: only for local ages (how long since data arrived). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

/**
 * The market's time (ms): the API's clock (offset from /api/health) advanced locally, re-read
 * every `ms`. Everything that means "now" on the market uses this, never `Date.now()`.
 */
export function useMarketNow(ms = 1000): number {
  const local = useNow(ms);
  const offset = useAppSelector((s) => s.market.clockOffsetMs);
  return serverNow(offset, local);
}

/** The market's time (ms) as `useMarketNow`, but null until the API has told it. */
export function useMarketClock(ms = 1000): number | null {
  const local = useNow(ms);
  const offset = useAppSelector((s) => s.market.clockOffsetMs);
  return offset === null ? null : serverNow(offset, local);
}

/** `value`, updated at most once per `ms` (charts need not redraw at the tick rate). */
export function useThrottled<T>(value: T, ms: number): T {
  const [shown, setShown] = useState(value);
  const last = useRef(0);
  useEffect(() => {
    // The deadline is fixed by the last update, so a stream of changes cannot starve it.
    const wait = Math.max(0, last.current + ms - Date.now());
    const t = setTimeout(() => {
      last.current = Date.now();
      setShown(value);
    }, wait);
    return () => clearTimeout(t);
  }, [value, ms]);
  return shown;
}

/**
 * The IST day (YYYY-MM-DD) the intraday charts show: the travelled-to one, else the day of the
 * chain on screen (its own market time), else the API's last session (on a weekend or holiday
 * the last trading day, not today).
 */
export function useChartDay(): string | undefined {
  const at = useAppSelector((s) => s.ui.at);
  const lastSession = useAppSelector((s) => s.market.session?.last_session);
  const dataDay = useAppSelector((s) => (typeof s.chain.meta?.ts === "number" ? istDate(s.chain.meta.ts * 1000) : undefined));
  return at ? at.slice(0, 10) : (dataDay ?? lastSession);
}
