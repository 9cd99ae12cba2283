/**
 * The strike matrix: calls left, puts right, centred on the ATM strike.
 *
 * Each row is a memoised component reading its own entity (per-row selector), so a delta
 * re-renders only the strikes it touched. OI bars scale through CSS variables set on the
 * table, so a new maximum does not re-render rows either.
 */
import { memo, useEffect, useLayoutEffect, useMemo, useRef, useState, type CSSProperties } from "react";
import { COLUMNS } from "../format";
import { useAppDispatch, useAppSelector } from "../hooks";
import { selectMoneynessRef, selectOiScale, selectRow, selectSpot, selectVisibleIds } from "../store/selectors";
import { strikeSelected, type HistoryStatus } from "../store/uiSlice";
import { strikeDrilled } from "../store/toolsSlice";
import type { ColumnKey, IvReason, Leg, Side } from "../types";
import { flashDigits, setFlashEnabled } from "./flash";
import { ivReasonText, NO_LEG } from "./legend";
import { StrategyPick } from "./StrategyPick";

// Fields whose change flashes: the price and the OI a trader watches tick. Flashing every
// changed field (a third of 400 legs x 8 fields, 4 times a second) restyled and repainted
// about a thousand cells twice per delta and was mostly noise.
const FLASHED = new Set<ColumnKey>(["ltp", "oi"]);

interface CellProps {
  col: ColumnKey;
  value: unknown;
  side: Side;
  /** Why an IV is missing (the IV column only). */
  reason?: IvReason | typeof NO_LEG | null | undefined;
}

/** One value; its changed digits flash green/red (flash.ts). */
const Cell = memo(function Cell({ col, value, side, reason }: CellProps) {
  const ref = useRef<HTMLSpanElement>(null);
  const prev = useRef(value);
  // The text shown before this render (formatting once per render: a delta formats only what
  // it changed).
  const prevText = useRef<string | null>(null);
  const def = COLUMNS[col];
  useLayoutEffect(() => {
    const before = prev.current;
    const beforeText = prevText.current;
    const text = ref.current?.textContent ?? "";
    prev.current = value;
    prevText.current = text;
    if (before === value || beforeText === null || !FLASHED.has(col) || !ref.current) return;
    const up = typeof value === "number" && typeof before === "number" ? value > before : true;
    flashDigits(ref.current, beforeText, text, up);
  }, [value, col]);
  const n = typeof value === "number" ? value : null;
  let cls = `c ${col} ${side}`;
  if (def.signed && n !== null && n !== 0) cls += n > 0 ? " pos" : " neg";
  if (col === "buildup" && typeof value === "string") cls += ` b-${value}`;
  // OI bars are cell backgrounds sized by CSS variables: no extra elements or layers.
  let style: CSSProperties | undefined;
  if (def.bar && n !== null) {
    cls += ` bar-${def.bar}${n < 0 ? " bar-neg" : ""}`;
    style = { "--v": Math.abs(n) } as CSSProperties;
  }
  const why = n === null && reason ? ivReasonText(reason) : undefined;
  if (why) cls += " why";
  return (
    <div className={cls} style={style} role="cell" title={why} data-why={why ? reason : undefined}>
      <span className="v" ref={ref}>{def.format(value)}</span>
    </div>
  );
});

interface RowProps {
  id: string;
  columns: ColumnKey[];
  callItm: boolean;
  putItm: boolean;
  atm: boolean;
  selected: boolean;
}

/** Why a leg has no IV: the API's code, or that the strike has no such leg. */
function ivReason(leg: Leg | null | undefined): IvReason | typeof NO_LEG | null | undefined {
  return leg ? leg.iv_reason : NO_LEG;
}

function legValue(leg: Leg | null | undefined, col: ColumnKey): unknown {
  return leg ? leg[col] : undefined;
}

export const ChainRow = memo(function ChainRow({ id, columns, callItm, putItm, atm, selected }: RowProps) {
  const row = useAppSelector((s) => selectRow(s, id));
  const dispatch = useAppDispatch();
  // Columns run outside-in on the call side and mirrored on the put side (OI outermost).
  const reversed = useMemo(() => [...columns].reverse(), [columns]);
  if (!row) return null;
  const cls = `row${atm ? " atm" : ""}${selected ? " selected" : ""}${callItm ? " itm-ce" : ""}${putItm ? " itm-pe" : ""}`;
  return (
    <div className={cls} role="row" data-strike={id} onClick={() => dispatch(strikeSelected(row.strike))}>
      {columns.map((col) => (
        <Cell key={`c-${col}`} col={col} side="CE" value={legValue(row.CE, col)} reason={col === "iv" ? ivReason(row.CE) : undefined} />
      ))}
      {/* A click anywhere on the strike cell (but its B and S buttons) opens the strike's
          drill-down; the strike is a button for the keyboard (its click comes here too). */}
      <div className="strike" role="rowheader" onClick={() => dispatch(strikeDrilled(row.strike))}>
        <StrategyPick strike={row.strike} side="CE" />
        <button type="button" className="strike-open" aria-label={`strike ${row.strike}: drill-down`} title="This strike through the day">
          {row.strike}
        </button>
        {row.iv !== null && row.iv !== undefined ? (
          <small className="siv">{(row.iv * 100).toFixed(1)}</small>
        ) : null}
        <StrategyPick strike={row.strike} side="PE" />
      </div>
      {reversed.map((col) => (
        <Cell key={`p-${col}`} col={col} side="PE" value={legValue(row.PE, col)} reason={col === "iv" ? ivReason(row.PE) : undefined} />
      ))}
    </div>
  );
});

/**
 * The spot line: a band of its own between the rows under and over spot, so that its label
 * never covers a row's figures (a line drawn over the rows' boundary did).
 */
function SpotLine({ spot }: { spot: number }) {
  return (
    <div className="spotline" role="separator" aria-label="spot" style={{ height: SPOT_H }}>
      <span>Spot {spot.toFixed(2)}</span>
    </div>
  );
}

/** Row height in px, border included (styles.css `.chain .row`): rows are windowed by it. */
export const ROW_H = 22;
/** The spot line's band in px (styles.css `.chain .spotline`), between two rows. */
export const SPOT_H = 14;
/** The strike column's width in px: the strike and its smile IV, or on a hovered row the strike between its buy/sell buttons. */
export const STRIKE_W = 104;
/** A cell's horizontal padding, both sides (styles.css `.chain .row > div`). */
const CELL_PAD = 12;

/**
 * The grid columns of the table: each at least as wide as its content (`COLUMNS[c].width`),
 * sharing any spare width; the table is never narrower than their sum, so with many columns
 * on a narrow screen it scrolls sideways (the strike column stays in view, sticky) instead of
 * squeezing cells over each other.
 */
export function chainLayout(columns: readonly ColumnKey[]): { template: string; minWidth: string } {
  const track = (c: ColumnKey) => `minmax(calc(${COLUMNS[c].width}ch + ${CELL_PAD}px), 1fr)`;
  const calls = columns.map(track);
  const template = [...calls, `${STRIKE_W}px`, ...[...calls].reverse()].join(" ");
  const ch = 2 * columns.reduce((sum, c) => sum + COLUMNS[c].width, 0);
  return { template, minWidth: `calc(${ch}ch + ${2 * columns.length * CELL_PAD + STRIKE_W}px)` };
}
const OVERSCAN = 6;

interface Viewport {
  top: number;
  height: number;
  head: number;
}

/** What an empty table says: in history mode, what the API answered for the minute. */
function emptyText(state: HistoryStatus["state"] | undefined): string {
  if (state === "missing") return "No chain at this minute (see above).";
  if (state === "failed") return "The chain at this minute could not be loaded.";
  if (state === "loading") return "Loading the chain at this minute…";
  return "Waiting for the chain…";
}

export function ChainTable() {
  const ids = useAppSelector(selectVisibleIds);
  const spot = useAppSelector(selectSpot);
  // ITM by the same price that picks the ATM strike: the forward (spot until it is known).
  const moneyness = useAppSelector(selectMoneynessRef);
  const flash = useAppSelector((s) => s.prefs.flash);
  const atm = useAppSelector((s) => s.chain.meta?.atm_strike ?? null);
  const columns = useAppSelector((s) => s.prefs.columns);
  const selected = useAppSelector((s) => s.ui.selectedStrike);
  const scale = useAppSelector(selectOiScale);
  const expiry = useAppSelector((s) => s.chain.expiry);
  const history = useAppSelector((s) => s.ui.history);
  const wrap = useRef<HTMLDivElement>(null);
  const head = useRef<HTMLDivElement>(null);
  const [view, setView] = useState<Viewport>({ top: 0, height: 0, head: 0 });
  const hasRows = ids.length > 0;

  useEffect(() => setFlashEnabled(flash), [flash]);

  // Only the rows in view (plus a margin) are rendered: the store keeps every strike current,
  // the DOM holds what the screen shows. Measured once a frame at most.
  useEffect(() => {
    const el = wrap.current;
    if (!el) return;
    let frame = 0;
    const measure = () => {
      frame = 0;
      setView({ top: el.scrollTop, height: el.clientHeight, head: head.current?.offsetHeight ?? 0 });
    };
    const schedule = () => {
      if (!frame) frame = requestAnimationFrame(measure);
    };
    schedule();
    el.addEventListener("scroll", schedule, { passive: true });
    const resize = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(schedule);
    resize?.observe(el);
    return () => {
      el.removeEventListener("scroll", schedule);
      resize?.disconnect();
      if (frame) cancelAnimationFrame(frame);
    };
  }, []);

  // Centre the ATM row when a chain first appears (new expiry or first load).
  const atmPos = atm === null ? -1 : ids.indexOf(String(atm));
  const centred = useRef<string | null>(null);
  useEffect(() => {
    const el = wrap.current;
    if (!el || !hasRows || atmPos < 0 || centred.current === expiry) return;
    centred.current = expiry;
    const headH = head.current?.offsetHeight ?? 0;
    el.scrollTop = Math.max(0, headH + atmPos * ROW_H - el.clientHeight / 2 + ROW_H / 2);
  }, [expiry, hasRows, atmPos]);

  // Sideways too, when the columns do not fit (a new chain, another set of columns): the strike
  // column in the middle, with the columns nearest to it (LTP, change) of both sides beside it.
  const centredSideways = useRef<string | null>(null);
  const columnsKey = `${expiry}|${columns.join(",")}`;
  useLayoutEffect(() => {
    const el = wrap.current;
    if (!el || !hasRows || centredSideways.current === columnsKey) return;
    centredSideways.current = columnsKey;
    const calls = head.current?.querySelector<HTMLElement>(".hrow.cols")?.children[columns.length - 1];
    if (!calls) return;
    const strikeMid = calls.getBoundingClientRect().right - el.getBoundingClientRect().left + el.scrollLeft + STRIKE_W / 2;
    el.scrollLeft = Math.max(0, strikeMid - el.clientWidth / 2);
  }, [columnsKey, hasRows, columns.length]);

  // Keep the selected strike on screen (keyboard navigation).
  const selPos = selected === null ? -1 : ids.indexOf(String(selected));
  useEffect(() => {
    const el = wrap.current;
    if (!el || selPos < 0) return;
    const headH = head.current?.offsetHeight ?? 0;
    const y = headH + selPos * ROW_H;
    if (y < el.scrollTop + headH) el.scrollTop = y - headH;
    else if (y + ROW_H > el.scrollTop + el.clientHeight) el.scrollTop = y + ROW_H - el.clientHeight;
  }, [selPos]);

  const n = columns.length;
  const layout = useMemo(() => chainLayout(columns), [columns]);
  const style = {
    "--oi-max": scale.oi,
    "--oichg-max": scale.oiChange,
    "--cols": layout.template,
    "--chain-min": layout.minWidth,
  } as CSSProperties;

  // Without a measured viewport (first paint, tests without layout) every row is rendered.
  let first = 0;
  let last = ids.length;
  if (view.height > 0) {
    first = Math.max(0, Math.floor((view.top - view.head) / ROW_H) - OVERSCAN);
    last = Math.min(ids.length, Math.ceil((view.top - view.head + view.height) / ROW_H) + OVERSCAN);
  }
  // The spot line sits above the first strike over spot, in the rows' flow.
  let spotIndex = ids.length;
  if (spot !== null) {
    const i = ids.findIndex((id) => Number(id) > spot);
    if (i >= 0) spotIndex = i;
  }
  const spotBand = spot !== null && hasRows ? SPOT_H : 0;
  const rows: React.ReactNode[] = [];
  for (let i = first; i < last; i += 1) {
    const id = ids[i]!;
    const k = Number(id);
    if (i === spotIndex && spot !== null) rows.push(<SpotLine key="spot" spot={spot} />);
    rows.push(
      <ChainRow
        key={id}
        id={id}
        columns={columns}
        callItm={moneyness !== null && k < moneyness}
        putItm={moneyness !== null && k > moneyness}
        atm={atm !== null && k === atm}
        selected={selected === k}
      />,
    );
  }
  if (spot !== null && hasRows && spotIndex === last) rows.push(<SpotLine key="spot" spot={spot} />);

  return (
    <div className="chain-wrap" ref={wrap} style={style}>
      <div className="chain" role="table" aria-label="option chain">
        <div className="thead" role="rowgroup" ref={head}>
          <div className="hrow sides" role="row">
            <div className="calls" role="columnheader" style={{ gridColumn: `span ${n}` }}><span>CALLS</span></div>
            <div className="strike" role="columnheader">Strike</div>
            <div className="puts" role="columnheader" style={{ gridColumn: `span ${n}` }}><span>PUTS</span></div>
          </div>
          <div className="hrow cols" role="row">
            {columns.map((c) => (
              <div key={`hc-${c}`} role="columnheader" title={COLUMNS[c].title}>{COLUMNS[c].label}</div>
            ))}
            <div className="strike" role="columnheader" title="Strike price (smile IV beside)">Strike</div>
            {[...columns].reverse().map((c) => (
              <div key={`hp-${c}`} role="columnheader" title={COLUMNS[c].title}>{COLUMNS[c].label}</div>
            ))}
          </div>
        </div>
        <div
          className="tbody"
          role="rowgroup"
          style={{ height: ids.length * ROW_H + spotBand, paddingTop: first * ROW_H + (first > spotIndex ? spotBand : 0) }}
        >
          {rows}
        </div>
      </div>
      {!hasRows ? <div className="empty" data-empty={history?.state ?? "live"}>{emptyText(history?.state)}</div> : null}
    </div>
  );
}
