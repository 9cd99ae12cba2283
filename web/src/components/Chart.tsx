/**
 * A small lightweight-charts wrapper: time charts (intraday) and price-axis charts (by strike),
 * with a crosshair, a tooltip of every series' value under it, and an optional vertical marker
 * (history mode's minute). The tooltip and the marker are DOM nodes moved imperatively: a
 * mouse move re-renders nothing.
 */
import { useEffect, useRef } from "react";
import {
  ColorType,
  createChart,
  createOptionsChart,
  CrosshairMode,
  HistogramSeries,
  LineSeries,
  LineStyle,
  type IChartApiBase,
  type ISeriesApi,
  type MouseEventParams,
  type SeriesType,
  type UTCTimestamp,
} from "lightweight-charts";

export interface Point {
  time: number;
  /** Absent: a whitespace point (keeps the x axis the same across charts). */
  value?: number;
  color?: string;
}

export interface SeriesSpec {
  kind: "line" | "histogram";
  color: string;
  title?: string;
  data: Point[];
  /** Drawn mirrored (puts below the axis): the tooltip shows `value * sign`. */
  sign?: 1 | -1;
}

/** The price axes' least width (px): charts stacked in a column line up their x axes. */
export const PRICE_AXIS_W = 58;

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

/** The x value under the crosshair as the tooltip prints it. */
export function xLabel(axis: "time" | "price", x: number): string {
  // Time charts' times are already shifted to IST (clock.ts `chartTime`): read them as UTC.
  return axis === "time" ? `${new Date(x * 1000).toISOString().slice(11, 16)} IST` : `Strike ${x}`;
}

/** The tooltip's lines: "Title: value" for each series with a value at that x. */
export function tooltipLines(
  series: readonly Pick<SeriesSpec, "title" | "sign">[],
  values: readonly (number | undefined)[],
  format: (v: number) => string,
  fallbackTitle: string,
): string[] {
  const lines: string[] = [];
  values.forEach((v, i) => {
    if (v === undefined || !Number.isFinite(v)) return;
    const spec = series[i];
    lines.push(`${spec?.title ?? fallbackTitle}: ${format(v * (spec?.sign ?? 1))}`);
  });
  return lines;
}

interface ChartProps {
  title: string;
  /** "time": x is a UNIX time in seconds; "price": x is a strike. */
  axis: "time" | "price";
  series: SeriesSpec[];
  theme: string;
  height?: number;
  /** Price-axis labels (module-level function: a new one recreates the chart). */
  format?: (value: number) => string;
  /** The tooltip's values (default `format`): e.g. signed where the axis shows magnitudes. */
  tooltipFormat?: (value: number) => string;
  /** Delay before drawing new data (ms): charts updated together redraw in separate frames. */
  delayMs?: number;
  /** An x to mark with a vertical line (history mode's minute, GEX's flip strike), or null. */
  marker?: number | null;
  /** The tooltip's x (default `xLabel`: a time in IST, or "Strike x"). */
  xFormat?: (x: number) => string;
}

/** The value under the crosshair; none for a whitespace point or an invisible (no-value) bar. */
function seriesValue(param: MouseEventParams<number>, handle: ISeriesApi<SeriesType, number>): number | undefined {
  const d = param.seriesData.get(handle) as { value?: number; color?: string } | undefined;
  return d?.color === "transparent" ? undefined : d?.value;
}

export function Chart({ title, axis, series, theme, height = 150, format, tooltipFormat, delayMs = 0, marker = null, xFormat }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const tip = useRef<HTMLDivElement>(null);
  const mark = useRef<HTMLDivElement>(null);
  const chart = useRef<IChartApiBase<number> | null>(null);
  const handles = useRef<ISeriesApi<SeriesType, number>[]>([]);
  const specs = useRef(series);
  const markerAt = useRef(marker);
  const xText = useRef(xFormat);
  // A title that changes (figures in it) must not recreate the chart: the tooltip reads it here.
  const titleNow = useRef(title);
  const shape = series.map((s) => `${s.kind}:${s.color}`).join("|");

  useEffect(() => {
    specs.current = series;
    xText.current = xFormat;
    titleNow.current = title;
  }, [series, xFormat, title]);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const muted = cssVar("--muted", "#8b949e");
    const options = {
      autoSize: true,
      layout: {
        background: { type: ColorType.Solid, color: "transparent" },
        textColor: muted,
        fontSize: 10,
        attributionLogo: false,
      },
      grid: {
        vertLines: { color: cssVar("--grid", "#222") },
        horzLines: { color: cssVar("--grid", "#222") },
      },
      // Margins keep the top and bottom labels inside the chart; one width lines the x axes up.
      rightPriceScale: { borderVisible: false, minimumWidth: PRICE_AXIS_W, scaleMargins: { top: 0.12, bottom: 0.12 } },
      timeScale: { borderVisible: false, timeVisible: true, secondsVisible: false },
      crosshair: {
        mode: CrosshairMode.Normal,
        vertLine: { color: muted, style: LineStyle.Dashed, labelVisible: true },
        horzLine: { color: muted, style: LineStyle.Dashed, labelVisible: true },
      },
      ...(format ? { localization: { priceFormatter: format } } : {}),
      handleScroll: false,
      handleScale: false,
    };
    const c: IChartApiBase<number> =
      axis === "time"
        ? (createChart(el, options) as unknown as IChartApiBase<number>)
        : createOptionsChart(el, options);
    chart.current = c;
    handles.current = shape.split("|").map((sig) => {
      const [kind, color] = sig.split(":") as [string, string];
      return kind === "line"
        ? c.addSeries(LineSeries, { color, lineWidth: 2, priceLineVisible: false, lastValueVisible: false })
        : c.addSeries(HistogramSeries, { color, priceLineVisible: false, lastValueVisible: false });
    });
    const show = format ?? ((v: number) => v.toFixed(2));
    const onMove = (param: MouseEventParams<number>) => {
      const t = tip.current;
      if (!t) return;
      if (!param.point || param.time === undefined) {
        t.hidden = true;
        return;
      }
      const values = handles.current.map((h) => seriesValue(param, h));
      const lines = tooltipLines(specs.current, values, tooltipFormat ?? show, titleNow.current);
      if (!lines.length) {
        t.hidden = true;
        return;
      }
      const x = xText.current ? xText.current(param.time) : xLabel(axis, param.time);
      t.textContent = [x, ...lines].join("\n");
      t.hidden = false;
      // Beside the cursor, on the side with room.
      const left = param.point.x > el.clientWidth / 2 ? param.point.x - t.offsetWidth - 12 : param.point.x + 12;
      t.style.transform = `translate(${Math.max(0, left)}px, 4px)`;
    };
    c.subscribeCrosshairMove(onMove);
    const place = () => placeMarker(c, mark.current, markerAt.current);
    c.timeScale().subscribeSizeChange(place);
    c.timeScale().subscribeVisibleLogicalRangeChange(place);
    return () => {
      c.unsubscribeCrosshairMove(onMove);
      c.remove();
      chart.current = null;
      handles.current = [];
    };
  }, [axis, shape, theme, format, tooltipFormat]);

  useEffect(() => {
    markerAt.current = marker;
    const t = setTimeout(() => {
      series.forEach((s, i) => {
        const h = handles.current[i];
        if (!h) return;
        const data = s.data.map((p) => ({ ...p, time: p.time as UTCTimestamp }));
        // The marked x is on the axis even past the last value (a minute with no point).
        if (i === 0 && marker !== null && !s.data.some((p) => p.time >= marker)) {
          data.push({ time: marker as UTCTimestamp });
        }
        h.setData(data);
      });
      // The last x with a value, for the tests: in history mode never past the marker.
      const valued = series.flatMap((s) => s.data.filter((p) => p.value !== undefined).map((p) => p.time));
      if (box.current?.parentElement) box.current.parentElement.dataset.last = valued.length ? String(Math.max(...valued)) : "";
      const c = chart.current;
      if (series.some((s) => s.data.length)) c?.timeScale().fitContent();
      if (c) placeMarker(c, mark.current, marker);
    }, delayMs);
    return () => clearTimeout(t);
  }, [series, theme, shape, delayMs, marker]);

  return (
    <figure className="chart">
      <figcaption>
        {/* One line however narrow the column: the full title on hover. */}
        <span className="title" title={title}>
          {title}
        </span>
        {series.filter((s) => s.title).map((s) => (
          <span key={s.title} className="legend" style={{ color: s.color }}>
            {s.title}
          </span>
        ))}
      </figcaption>
      <div className="plot" style={{ height }}>
        <div ref={box} style={{ height }} />
        <div ref={mark} className="marker" hidden data-marker={marker ?? undefined} />
        <div ref={tip} className="chart-tip" hidden role="tooltip" />
      </div>
    </figure>
  );
}

/** The vertical marker at x `at` (hidden when null or off the axis). */
function placeMarker(c: IChartApiBase<number>, el: HTMLDivElement | null, at: number | null): void {
  if (!el) return;
  const x = at === null ? null : c.timeScale().timeToCoordinate(at);
  el.hidden = x === null;
  if (x !== null) el.style.transform = `translateX(${Math.round(x)}px)`;
}
