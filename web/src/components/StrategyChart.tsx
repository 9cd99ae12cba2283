/**
 * The payoff chart: P&L in rupees against spot, at expiry (solid) and at the target date
 * (dashed), the zero line, today's spot and the breakevens marked. Plain SVG: two curves of a
 * few hundred points need no chart library, and the picture scales with its box.
 */
import type { StrategyPayoff } from "../strategy/types";

const W = 640;
const H = 260;
const PAD = { left: 64, right: 12, top: 12, bottom: 26 };

function niceTicks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(v);
  return out;
}

export function formatRupees(v: number): string {
  const a = Math.abs(v);
  const sign = v < 0 ? "-" : "";
  if (a >= 1e7) return `${sign}${(a / 1e7).toFixed(2)} Cr`;
  if (a >= 1e5) return `${sign}${(a / 1e5).toFixed(2)} L`;
  return `${sign}${a.toLocaleString("en-IN", { maximumFractionDigits: 0 })}`;
}

type ChartData = Pick<StrategyPayoff, "spots" | "at_expiry" | "at_target" | "breakevens" | "spot">;

export function StrategyChart({ payoff, targetLabel }: { payoff: ChartData; targetLabel: string }) {
  const { spots, at_expiry: expiry, at_target: target } = payoff;
  if (spots.length < 2) return null;
  const x0 = spots[0]!;
  const x1 = spots[spots.length - 1]!;
  let lo = 0;
  let hi = 0;
  for (const v of [...expiry, ...target]) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (hi === lo) hi = lo + 1;
  const margin = (hi - lo) * 0.06;
  lo -= margin;
  hi += margin;
  const sx = (v: number) => PAD.left + ((v - x0) / (x1 - x0)) * (W - PAD.left - PAD.right);
  const sy = (v: number) => PAD.top + ((hi - v) / (hi - lo)) * (H - PAD.top - PAD.bottom);
  const path = (ys: number[]) => ys.map((y, i) => `${i ? "L" : "M"}${sx(spots[i]!).toFixed(1)},${sy(y).toFixed(1)}`).join("");
  const zero = sy(0);
  // The area under the expiry curve, green above zero and red below (clipped at the zero line).
  const area = `${path(expiry)}L${sx(x1).toFixed(1)},${zero.toFixed(1)}L${sx(x0).toFixed(1)},${zero.toFixed(1)}Z`;
  const inRange = payoff.breakevens.filter((b) => b >= x0 && b <= x1);
  return (
    <figure className="strategy-chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label="payoff chart">
        <defs>
          <clipPath id="sc-above">
            <rect x={0} y={0} width={W} height={zero} />
          </clipPath>
          <clipPath id="sc-below">
            <rect x={0} y={zero} width={W} height={Math.max(0, H - zero)} />
          </clipPath>
        </defs>
        {niceTicks(lo, hi, 5).map((v) => (
          <g key={`y${v}`} className="tick">
            <line x1={PAD.left} x2={W - PAD.right} y1={sy(v)} y2={sy(v)} />
            <text x={PAD.left - 4} y={sy(v) + 3} textAnchor="end">{formatRupees(v)}</text>
          </g>
        ))}
        {niceTicks(x0, x1, 6).map((v) => (
          <text key={`x${v}`} className="tick" x={sx(v)} y={H - 8} textAnchor="middle">{v}</text>
        ))}
        <path d={area} className="profit" clipPath="url(#sc-above)" />
        <path d={area} className="loss" clipPath="url(#sc-below)" />
        <line className="zero" x1={PAD.left} x2={W - PAD.right} y1={zero} y2={zero} />
        {payoff.spot >= x0 && payoff.spot <= x1 ? (
          <line className="spot" x1={sx(payoff.spot)} x2={sx(payoff.spot)} y1={PAD.top} y2={H - PAD.bottom} />
        ) : null}
        <path d={path(target)} className="target" data-curve="target" />
        <path d={path(expiry)} className="expiry" data-curve="expiry" />
        {inRange.map((b) => (
          <g key={`be${b}`} className="breakeven" data-breakeven={b}>
            <circle cx={sx(b)} cy={zero} r={3.5} />
            <text x={sx(b)} y={zero - 7} textAnchor="middle">{b.toFixed(0)}</text>
          </g>
        ))}
      </svg>
      <figcaption>
        <span className="key expiry">at expiry</span>
        <span className="key target">{targetLabel}</span>
        <span className="key spot">spot {payoff.spot.toFixed(2)}</span>
      </figcaption>
    </figure>
  );
}
