/** The strategy's figures: breakevens, max profit and loss, premium, PoP and net Greeks. */
import type { StrategyPayoff } from "../strategy/types";
import { formatRupees } from "./StrategyChart";

const money = (v: number | null, unlimited: string) =>
  v === null ? unlimited : `${v < 0 ? "−" : ""}₹${formatRupees(Math.abs(v))}`;

export function StrategyFigures({ payoff }: { payoff: StrategyPayoff }) {
  const g = payoff.greeks;
  const premium = payoff.net_premium;
  return (
    <dl className="strategy-figures">
      <div data-fig="breakevens">
        <dt>Breakevens</dt>
        <dd>{payoff.breakevens.length ? payoff.breakevens.map((b) => b.toFixed(2)).join(" · ") : "none"}</dd>
      </div>
      <div data-fig="max-profit">
        <dt>Max profit</dt>
        <dd className="pos">{money(payoff.max_profit, "Unlimited")}</dd>
      </div>
      <div data-fig="max-loss">
        <dt>Max loss</dt>
        <dd className="neg">{money(payoff.max_loss, "Unlimited")}</dd>
      </div>
      <div data-fig="premium">
        <dt>{premium >= 0 ? "Net debit" : "Net credit"}</dt>
        <dd>₹{formatRupees(Math.abs(premium))}</dd>
      </div>
      <div data-fig="pop" title="Probability the P&L at expiry is positive: lognormal around the expiry's forward with its ATM IV (risk-neutral)">
        <dt>PoP</dt>
        <dd>{payoff.pop === null ? "–" : `${(payoff.pop * 100).toFixed(1)}%`}</dd>
      </div>
      <div data-fig="delta" title="Rupees per point of spot">
        <dt>Delta</dt>
        <dd>{g.delta.toFixed(1)}</dd>
      </div>
      <div data-fig="gamma" title="Change of the rupee delta per point">
        <dt>Gamma</dt>
        <dd>{g.gamma.toFixed(3)}</dd>
      </div>
      <div data-fig="theta" title="Rupees per calendar day">
        <dt>Theta</dt>
        <dd>{formatRupees(g.theta)}</dd>
      </div>
      <div data-fig="vega" title="Rupees per vol point">
        <dt>Vega</dt>
        <dd>{formatRupees(g.vega)}</dd>
      </div>
    </dl>
  );
}
