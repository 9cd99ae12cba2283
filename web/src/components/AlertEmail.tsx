/**
 * The alerts panel's e-mail section (docs/alerts.md "E-mail subscriptions"): the address the
 * user's e-mailed alerts (rules with "e-mail" ticked) go to. The API records the request and
 * the server's feed subscribes it with SNS within seconds (`requested`: "Subscribing…"); SNS
 * then mails a confirmation link and nothing is mailed until it is followed, so the section
 * says to check the inbox while the subscription is `pending`. While either lasts it asks
 * GET /api/alerts/email again every few seconds. Shown only where GET /api/alerts says `email`.
 */
import { useState } from "react";
import {
  alertsApi,
  useAlertEmailQuery,
  useSubscribeAlertEmailMutation,
  useUnsubscribeAlertEmailMutation,
} from "../store/alertsApi";
import "./AlertEmail.css";

/** How often the section asks for the state while the server subscribes or SNS waits for the link. */
export const POLL_MS = 3000;

/** The API's one-sentence reason (`detail`), else what failed. */
function reason(error: unknown): string {
  const data = error && typeof error === "object" && "data" in error ? (error as { data: unknown }).data : null;
  const detail = data && typeof data === "object" ? (data as { detail?: unknown }).detail : null;
  return typeof detail === "string" ? detail : "the e-mail subscription could not be changed";
}

export function AlertEmailSection({ email, pollMs = POLL_MS }: { email: boolean; pollMs?: number }) {
  if (!email) return null;
  return <Subscription pollMs={pollMs} />;
}

function Subscription({ pollMs }: { pollMs: number }) {
  // The cached state (read without subscribing) decides whether the subscription below polls.
  const cached = alertsApi.endpoints.alertEmail.useQueryState().data?.state;
  const waiting = cached === "requested" || cached === "pending";
  const { data, error: loadError } = useAlertEmailQuery(undefined, { pollingInterval: waiting ? pollMs : 0 });
  const [put, putState] = useSubscribeAlertEmailMutation();
  const [remove, removeState] = useUnsubscribeAlertEmailMutation();
  const [typed, setTyped] = useState<string | null>(null);
  const address = typed ?? data?.token_address ?? "";
  const busy = putState.isLoading || removeState.isLoading;
  const error = putState.error ?? removeState.error ?? loadError;
  const state = data?.state;
  return (
    <section className="alert-email" aria-label="e-mail">
      <h4>E-mail</h4>
      {state === "requested" ? (
        <p className="pending" role="status">
          Subscribing… ({data?.address}){data?.problem ? `: ${data.problem}` : ""}
        </p>
      ) : null}
      {state === "pending" ? (
        <p className="pending" role="status">
          Check your inbox ({data?.address}) to confirm: nothing is e-mailed until you follow the link.
        </p>
      ) : null}
      {state === "confirmed" ? <p className="note">Alerts marked e-mail go to {data?.address}.</p> : null}
      {state === "none" || state === undefined ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void put({ address: address.trim() || null })
              .unwrap()
              .then(() => setTyped(null))
              .catch(() => undefined); // the reason is shown below
          }}
        >
          <input
            aria-label="e-mail address"
            type="email"
            placeholder="name@example.com"
            maxLength={254}
            value={address}
            onChange={(e) => {
              putState.reset();
              setTyped(e.target.value);
            }}
          />
          <button type="submit" disabled={busy || !address.trim() || data === undefined}>Subscribe</button>
        </form>
      ) : (
        <button type="button" disabled={busy} onClick={() => void remove().unwrap().catch(() => undefined)}>
          Unsubscribe
        </button>
      )}
      {state === "none" && data?.problem && !error ? <p className="problem" role="alert">{data.problem}</p> : null}
      {error ? <p className="problem" role="alert">{reason(error)}</p> : null}
    </section>
  );
}
