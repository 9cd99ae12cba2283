/**
 * The alerts panel's e-mail section (docs/alerts.md "E-mail subscriptions"): the address the
 * user's e-mailed alerts (rules with "e-mail" ticked) go to. Subscribing makes SNS mail a
 * confirmation link; nothing is mailed until it is followed, so the section says to check the
 * inbox while the subscription is pending. Shown only where GET /api/alerts says `email`;
 * where the API cannot manage subscriptions (`email_subscribe` false) it says who does.
 */
import { useState } from "react";
import {
  useAlertEmailQuery,
  useSubscribeAlertEmailMutation,
  useUnsubscribeAlertEmailMutation,
} from "../store/alertsApi";
import "./AlertEmail.css";

/** The API's one-sentence reason (`detail`), else what failed. */
function reason(error: unknown): string {
  const data = error && typeof error === "object" && "data" in error ? (error as { data: unknown }).data : null;
  const detail = data && typeof data === "object" ? (data as { detail?: unknown }).detail : null;
  return typeof detail === "string" ? detail : "the e-mail subscription could not be changed";
}

export function AlertEmailSection({ email, subscribe }: { email: boolean; subscribe: boolean }) {
  if (!email) return null;
  if (!subscribe) {
    return (
      <section className="alert-email" aria-label="e-mail">
        <p className="note">E-mailed alerts go to the address an operator subscribed for you.</p>
      </section>
    );
  }
  return <Subscription />;
}

function Subscription() {
  const { data, error: loadError, refetch, isFetching } = useAlertEmailQuery();
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
      {state === "pending" ? (
        <p className="pending" role="status">
          Check your inbox ({data?.address}) to confirm: nothing is e-mailed until you follow the link.{" "}
          <button type="button" disabled={isFetching} onClick={() => void refetch()}>Check again</button>
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
      {error ? <p className="problem" role="alert">{reason(error)}</p> : null}
    </section>
  );
}
