/** The chain's legend: one rule for ATM and ITM, and why an IV is missing. */
import { price } from "../format";
import { useAppSelector } from "../hooks";
import type { IvReason } from "../types";

/** A strike without that leg at all (the feed does not carry the contract): the SPA's own code. */
export const NO_LEG = "no_leg";

const IV_REASONS: Record<IvReason | typeof NO_LEG, string> = {
  no_leg: "no IV: the feed does not carry this contract",
  no_price: "no IV: the option has not traded (no last price)",
  no_spot: "no IV: no spot or forward to price against",
  expired: "no IV: no time left to expiry",
  intrinsic: "no IV: the last price is at or below intrinsic value (no time value)",
  bound: "no IV: the last price is above what any volatility gives (the model's upper bound)",
  unsolved: "no IV: the solver found none inside the bounds",
};

/** The tooltip of a missing IV, from the API's `iv_reason` code. */
export function ivReasonText(reason: IvReason | typeof NO_LEG): string {
  return IV_REASONS[reason] ?? `no IV (${String(reason)})`;
}

/**
 * ATM and ITM follow one rule, the forward F (from put-call parity, as the IVs): the ATM row is
 * the strike nearest F, calls below F and puts above it are shaded in the money. The spot line
 * marks spot, which differs from F by the carry to expiry.
 */
export function ChainLegend() {
  const forward = useAppSelector((s) => s.chain.meta?.forward ?? null);
  const spot = useAppSelector((s) => s.chain.meta?.spot ?? null);
  const atm = useAppSelector((s) => s.chain.meta?.atm_strike ?? null);
  const ref = forward === null ? "spot (no forward yet)" : `the forward F ${price(forward)}`;
  const title =
    "The forward F is the price put-call parity implies for the expiry (the IVs are priced on it). " +
    "ATM is the strike nearest F; a call is in the money below F, a put above it. The spot line " +
    "marks spot, which sits below or above F by the carry to expiry, so the ATM row need not touch it. " +
    "A dash in the IV column has its reason in its tooltip.";
  return (
    <p className="chain-legend" title={title} data-ref={forward === null ? "spot" : "forward"}>
      <span className="item">
        <span className="swatch atm" />
        ATM {atm ?? "–"}: strike nearest {ref}
      </span>{" "}
      <span className="item">
        <span className="swatch itm" />
        in the money against {forward === null ? "spot" : "F"}
      </span>{" "}
      <span className="item">
        <span className="swatch spot" />
        spot {price(spot)}
      </span>
    </p>
  );
}
