/**
 * POST /api/strategy/payoff for the browser benchmark's fake gateway: a BENCH DOUBLE, not the
 * product's pricing (that is strikeboard/chain/strategy.py behind the API). It answers with the
 * StrategyPayoff shape (strikeboard/api/models.py) and its size (`points` spots, per-leg
 * fields), computed from the request and the synthetic chain with a plain Black-76 at zero
 * rate: each leg at its entry quote from the chain, valued with the vol that price implies
 * (else the chain's IV, as the API does), the T+ curve at `target`, the probability of profit
 * under a lognormal at the ATM IV. Enough for the builder to draw real-looking curves and
 * figures from a live chain; its numbers mean nothing.
 */

const IST = "+05:30";
const YEAR_MS = 365 * 86_400_000;

/** The standard normal CDF (Abramowitz-Stegun 26.2.17, error < 7.5e-8). */
function ncdf(x) {
  const t = 1 / (1 + 0.2316419 * Math.abs(x));
  const d = 0.3989422804014327 * Math.exp((-x * x) / 2);
  const p = d * t * (0.31938153 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429))));
  return x >= 0 ? 1 - p : p;
}
const npdf = (x) => 0.3989422804014327 * Math.exp((-x * x) / 2);

/** Black-76 (zero rate): price and the per-unit Greeks of one option on forward f. */
function black76(f, k, t, vol, call) {
  if (t <= 0 || vol <= 0) {
    const v = Math.max(0, call ? f - k : k - f);
    return { price: v, delta: call ? (f > k ? 1 : 0) : f < k ? -1 : 0, gamma: 0, theta: 0, vega: 0 };
  }
  const sd = vol * Math.sqrt(t);
  const d1 = (Math.log(f / k) + (sd * sd) / 2) / sd;
  const d2 = d1 - sd;
  const price = call ? f * ncdf(d1) - k * ncdf(d2) : k * ncdf(-d2) - f * ncdf(-d1);
  return {
    price,
    delta: call ? ncdf(d1) : ncdf(d1) - 1,
    gamma: npdf(d1) / (f * sd),
    theta: -(f * npdf(d1) * vol) / (2 * Math.sqrt(t)) / 365, // per calendar day
    vega: (f * npdf(d1) * Math.sqrt(t)) / 100, // per vol point
  };
}

/** The vol at which Black-76 gives `price` (bisection), or NaN when the price implies none. */
function impliedVol(price, f, k, t, call) {
  if (!(t > 0) || !(price > Math.max(0, call ? f - k : k - f))) return NaN;
  let [lo, hi] = [1e-4, 5];
  if (black76(f, k, t, hi, call).price < price) return NaN;
  for (let i = 0; i < 60; i += 1) {
    const mid = (lo + hi) / 2;
    if (black76(f, k, t, mid, call).price < price) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

const r2 = (v) => Math.round(v * 100) / 100;

/** The expiry's close (15:30 IST) as epoch ms. */
const closeOf = (day) => Date.parse(`${day}T15:30:00${IST}`);

function istIso(ms) {
  return `${new Date(ms + 5.5 * 3_600_000).toISOString().slice(0, 19)}${IST}`;
}

/**
 * The answer for `req` (a StrategyRequest) against `chain` (SyntheticChain): {status, body}.
 * The chain's clock is its expiry's close minus its days to expiry, so runs are comparable.
 */
export function payoffDouble(req, chain) {
  const snap = chain.snapshot();
  if (!Array.isArray(req?.legs) || req.legs.length < 1) return { status: 422, body: { detail: "legs: at least one" } };
  const horizonMs = closeOf(snap.expiry);
  const nowMs = horizonMs - snap.days_to_expiry * 86_400_000;
  const targetMs = req.target ? Math.min(horizonMs, Math.max(nowMs, Date.parse(`${req.target}${IST}`))) : nowMs;
  const spot = snap.spot;
  const forward = snap.forward;
  const basis = forward - spot;
  const atmIv = snap.aggregates.atm_iv;
  const tNow = (horizonMs - nowMs) / YEAR_MS;
  const tTarget = (horizonMs - targetMs) / YEAR_MS;
  const shift = (req.iv_shift ?? 0) / 100;
  const legs = [];
  for (const l of req.legs) {
    const row = snap.strikes[String(l.strike)];
    if (!row || l.expiry !== snap.expiry) return { status: 404, body: { detail: `NIFTY ${l.expiry} ${l.strike} ${l.option_type}: not in the chain` } };
    const q = row[l.option_type];
    const price =
      l.entry === "typed" ? l.price : l.entry === "bid" ? q.bid : l.entry === "ask" ? q.ask : l.entry === "ltp" ? q.ltp : r2((q.bid + q.ask) / 2);
    const quantity = l.lots * snap.lot_size;
    // As the API does: the vol the entry price implies, else (at or below intrinsic) the chain's.
    const implied = impliedVol(price, forward, l.strike, tNow, l.option_type === "CE");
    const [iv, source] = Number.isFinite(implied) ? [Math.round(implied * 1e6) / 1e6, "entry"] : [q.iv, "chain"];
    legs.push({ ...l, price, lot_size: snap.lot_size, quantity, iv, iv_source: source, sign: l.side === "buy" ? 1 : -1 });
  }
  const rangePct = req.range_pct ?? Math.min(50, Math.max(1, Math.round(4000 * atmIv * Math.sqrt(tNow)) / 10));
  const points = req.points ?? 201;
  const half = (spot * rangePct) / 100;
  const spots = Array.from({ length: points }, (_, i) => spot - half + (2 * half * i) / (points - 1));
  const atExpiry = spots.map((s) =>
    legs.reduce((a, l) => a + l.sign * l.quantity * (Math.max(0, l.option_type === "CE" ? s - l.strike : l.strike - s) - l.price), 0),
  );
  const valueAt = (s, t) =>
    legs.reduce((a, l) => a + l.sign * l.quantity * (black76(s + basis, l.strike, t, l.iv + shift, l.option_type === "CE").price - l.price), 0);
  const atTarget = spots.map((s) => valueAt(s, tTarget));
  const breakevens = [];
  for (let i = 1; i < spots.length; i += 1) {
    const [a, b] = [atExpiry[i - 1], atExpiry[i]];
    if ((a < 0 && b >= 0) || (a > 0 && b <= 0)) breakevens.push(spots[i - 1] + ((spots[i] - spots[i - 1]) * a) / (a - b));
  }
  // Unlimited upside or downside: net calls held beyond the last strike.
  const callSlope = legs.filter((l) => l.option_type === "CE").reduce((a, l) => a + l.sign * l.quantity, 0);
  const atZero = legs.reduce((a, l) => a + l.sign * l.quantity * (Math.max(0, l.option_type === "CE" ? -l.strike : l.strike) - l.price), 0);
  const bounded = [...atExpiry, atZero];
  const maxProfit = callSlope > 0 ? null : Math.max(...bounded);
  const maxLoss = callSlope < 0 ? null : Math.min(...bounded);
  // P(P&L at expiry > 0): lognormal mass of the axis intervals where the payoff is positive.
  const sd = atmIv * Math.sqrt(tNow);
  const cdf = (s) => ncdf((Math.log(s / forward) + (sd * sd) / 2) / sd);
  let pop = 0;
  for (let i = 0; i < spots.length; i += 1) {
    if (atExpiry[i] <= 0) continue;
    const lo = i === 0 ? 1e-9 : (spots[i - 1] + spots[i]) / 2;
    const hi = i === spots.length - 1 ? Infinity : (spots[i] + spots[i + 1]) / 2;
    pop += (hi === Infinity ? 1 : cdf(hi)) - cdf(lo);
  }
  const greeks = { delta: 0, gamma: 0, theta: 0, vega: 0 };
  for (const l of legs) {
    const g = black76(forward, l.strike, tNow, l.iv, l.option_type === "CE");
    for (const k of Object.keys(greeks)) greeks[k] += l.sign * l.quantity * g[k];
  }
  return {
    status: 200,
    body: {
      underlying: "NIFTY",
      spot,
      now: istIso(nowMs),
      target: istIso(targetMs),
      horizon: snap.expiry,
      forward,
      atm_iv: atmIv,
      iv_shift: req.iv_shift ?? 0,
      range_pct: rangePct,
      spots: spots.map(r2),
      at_expiry: atExpiry.map(r2),
      at_target: atTarget.map(r2),
      target_at_spot: r2(valueAt(spot, tTarget)),
      breakevens: breakevens.map(r2),
      max_profit: maxProfit === null ? null : r2(maxProfit),
      max_loss: maxLoss === null ? null : r2(maxLoss),
      pop: Math.round(pop * 1e4) / 1e4,
      net_premium: r2(legs.reduce((a, l) => a + l.sign * l.quantity * l.price, 0)),
      greeks: {
        delta: Math.round(greeks.delta * 1e4) / 1e4,
        gamma: Math.round(greeks.gamma * 1e6) / 1e6,
        theta: r2(greeks.theta),
        vega: r2(greeks.vega),
      },
      legs: legs.map((l) => {
        const { sign, ...wire } = l; // eslint-disable-line no-unused-vars -- internal, not on the wire
        return wire;
      }),
      source: "live",
      stale: false,
    },
  };
}
