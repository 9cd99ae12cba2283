/** A small lightweight-charts wrapper: time charts (intraday) and price-axis charts (by strike). */
import { useEffect, useRef } from "react";
import {
  ColorType,
  createChart,
  createOptionsChart,
  HistogramSeries,
  LineSeries,
  type IChartApiBase,
  type ISeriesApi,
  type SeriesType,
  type UTCTimestamp,
} from "lightweight-charts";

export interface Point {
  time: number;
  value: number;
  color?: string;
}

export interface SeriesSpec {
  kind: "line" | "histogram";
  color: string;
  title?: string;
  data: Point[];
}

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
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
  /** Delay before drawing new data (ms): charts updated together redraw in separate frames. */
  delayMs?: number;
}

export function Chart({ title, axis, series, theme, height = 150, format, delayMs = 0 }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<IChartApiBase<number> | null>(null);
  const handles = useRef<ISeriesApi<SeriesType, number>[]>([]);
  const shape = series.map((s) => `${s.kind}:${s.color}`).join("|");

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const options = {
      autoSize: true,
      layout: {
        background: { type: ColorType.Solid, color: "transparent" },
        textColor: cssVar("--muted", "#8b949e"),
        fontSize: 10,
        attributionLogo: false,
      },
      grid: {
        vertLines: { color: cssVar("--grid", "#222") },
        horzLines: { color: cssVar("--grid", "#222") },
      },
      rightPriceScale: { borderVisible: false },
      timeScale: { borderVisible: false, timeVisible: true, secondsVisible: false },
      crosshair: { mode: 0 },
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
    return () => {
      c.remove();
      chart.current = null;
      handles.current = [];
    };
  }, [axis, shape, theme, format]);

  useEffect(() => {
    const t = setTimeout(() => {
      series.forEach((s, i) => {
        const h = handles.current[i];
        if (!h) return;
        h.setData(s.data.map((p) => ({ ...p, time: p.time as UTCTimestamp })));
      });
      if (series.some((s) => s.data.length)) chart.current?.timeScale().fitContent();
    }, delayMs);
    return () => clearTimeout(t);
  }, [series, theme, shape, delayMs]);

  return (
    <figure className="chart">
      <figcaption>
        {title}
        {series.filter((s) => s.title).map((s) => (
          <span key={s.title} className="legend" style={{ color: s.color }}>
            {s.title}
          </span>
        ))}
      </figcaption>
      <div ref={box} style={{ height }} />
    </figure>
  );
}
