/**
 * IV rank and IV percentile in the chain header: the API's (GET /api/analytics/daily), of the
 * front expiry's closing ATM IV against the year before, for the day on screen.
 */
import type { DailyStat } from "../api/schema.gen";
import { istDate } from "../clock";
import { DASH } from "../format";
import { useAppSelector, useChartDay, useMarketNow } from "../hooks";
import { useDailyQuery } from "../store/api";
import { Stat } from "./Stat";

const DAY_MS = 86_400_000;
/** The API's bound on `days`. */
const MAX_DAYS = 750;

/** The statistics of `day`, else of the last day before it that has some. */
export function statOf(stats: readonly DailyStat[] | undefined, day: string | undefined): DailyStat | null {
  let found: DailyStat | null = null;
  for (const s of stats ?? []) {
    if ((!day || s.day <= day) && (found === null || s.day > found.day)) found = s;
  }
  return found;
}

/** How many days back from `today` the daily statistics must reach to include `day`. */
export function daysBack(today: string, day: string | undefined): number {
  if (!day) return 5;
  const n = Math.round((Date.parse(`${today}T00:00:00Z`) - Date.parse(`${day}T00:00:00Z`)) / DAY_MS);
  // A few more than the difference: the day asked may be a holiday, the figures then the last before it.
  return Math.min(MAX_DAYS, Math.max(5, (Number.isFinite(n) ? n : 0) + 5));
}

export function formatRank(s: DailyStat | null): string {
  const v = (x: number | null | undefined) => (x == null ? DASH : x.toFixed(0));
  return s ? `${v(s.iv_rank)} / ${v(s.iv_percentile)}` : `${DASH} / ${DASH}`;
}

export function IvRank() {
  const underlying = useAppSelector((s) => s.ui.underlying);
  const at = useAppSelector((s) => s.ui.at);
  const day = useChartDay();
  const today = istDate(useMarketNow(60_000));
  const { currentData } = useDailyQuery(
    { underlying, days: daysBack(today, day) },
    { pollingInterval: at ? 0 : 60_000 },
  );
  const stat = statOf(currentData, day);
  return (
    <Stat
      label="IVR / IVP"
      value={formatRank(stat)}
      title={
        "IV rank (where the front expiry's closing ATM IV sits between the year's low and high, 0-100) " +
        `and IV percentile (the share of the year's days with a lower one)${stat ? `, ${stat.day}` : ""}`
      }
    />
  );
}
