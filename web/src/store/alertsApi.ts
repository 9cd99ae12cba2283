/** The alert routes (docs/alerts.md), injected into the REST API slice (store/api.ts). */
import { api } from "./api";
import type { AlertEmail, AlertEmailIn, AlertEvents, AlertRule, AlertRuleIn, AlertRules } from "../alerts/types";

export const alertsApi = api.enhanceEndpoints({ addTagTypes: ["Alerts", "AlertEmail"] }).injectEndpoints({
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
    /** The user's e-mail subscription: none, pending (a confirmation link was mailed) or confirmed. */
    alertEmail: b.query<AlertEmail, void>({ query: () => "alerts/email", providesTags: ["AlertEmail"] }),
    subscribeAlertEmail: b.mutation<AlertEmail, AlertEmailIn>({
      query: (body) => ({ url: "alerts/email", method: "PUT", body }),
      invalidatesTags: ["AlertEmail"],
    }),
    unsubscribeAlertEmail: b.mutation<null, void>({
      query: () => ({ url: "alerts/email", method: "DELETE" }),
      invalidatesTags: ["AlertEmail"],
    }),
  }),
});

export const {
  useAlertsQuery,
  useCreateAlertMutation,
  useDeleteAlertMutation,
  useAlertEventsQuery,
  useAlertEmailQuery,
  useSubscribeAlertEmailMutation,
  useUnsubscribeAlertEmailMutation,
} = alertsApi;
