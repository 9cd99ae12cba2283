/** The alert routes (docs/alerts.md), injected into the REST API slice (store/api.ts). */
import { api } from "./api";
import type { AlertEvents, AlertRule, AlertRuleIn, AlertRules } from "../alerts/types";

export const alertsApi = api.enhanceEndpoints({ addTagTypes: ["Alerts"] }).injectEndpoints({
  endpoints: (b) => ({
    alerts: b.query<AlertRules, void>({ query: () => "alerts", providesTags: ["Alerts"] }),
    createAlert: b.mutation<AlertRule, AlertRuleIn>({
      query: (body) => ({ url: "alerts", method: "POST", body }),
      invalidatesTags: ["Alerts"],
    }),
    deleteAlert: b.mutation<null, number>({
      query: (id) => ({ url: `alerts/${id}`, method: "DELETE" }),
      invalidatesTags: ["Alerts"],
    }),
    /** The newest fired alerts (a page); live ones arrive on the WebSocket meanwhile. */
    alertEvents: b.query<AlertEvents, number | void>({
      query: (limit) => `alerts/events?limit=${limit ?? 50}`,
    }),
  }),
});

export const { useAlertsQuery, useCreateAlertMutation, useDeleteAlertMutation, useAlertEventsQuery } = alertsApi;
