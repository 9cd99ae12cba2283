/** POST /api/strategy/payoff, injected into the REST API slice (store/api.ts). */
import { api } from "./api";
import type { StrategyPayoff, StrategyRequest } from "../strategy/types";

export const strategyApi = api.injectEndpoints({
  endpoints: (b) => ({
    // A query (not a mutation): the same legs and controls are one cached answer, re-fetched
    // by polling while the chain moves.
    strategyPayoff: b.query<StrategyPayoff, StrategyRequest>({
      query: (body) => ({ url: "strategy/payoff", method: "POST", body }),
    }),
  }),
});

export const { useStrategyPayoffQuery } = strategyApi;
