"""The caller's e-mail subscription to the alerts topic (ALERTS_TOPIC_ARN): what
docs/alerts.md "E-mail subscriptions" once told an operator to do by hand, for the caller.

A subscription is an SNS ``email`` subscription of the topic with the filter policy
``{"user_id": [<the caller's user id>]}``: the evaluator publishes each e-mailed alert with a
``user_id`` message attribute, so each address receives its own user's alerts only. SNS mails a
confirmation link first and mails nothing before it is followed (so nobody can have alerts sent
to an address they do not own). SNS holds the address and its state; PostgreSQL
(`strikeboard.store.alerts`, table ``alert_email``) remembers which subscription is the user's
and a hash of its address: one address per user, and one user per address.

Addresses are personal data: logged masked (`strikeboard.redact.mask_email`), never whole.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from strikeboard.api.errors import ConflictError, UnavailableError
from strikeboard.redact import mask_email

log = logging.getLogger("strikeboard.api.alert_email")

State = Literal["none", "pending", "confirmed"]
TAKEN = "this address already receives another account's alerts"


def address_sha256(address: str) -> str:
    """The key of "one user per address": mail systems take ``Trader@Example.com`` and
    ``trader@example.com`` alike."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()


def filter_policy(user_id: str) -> str:
    """The subscription's filter policy: only messages whose ``user_id`` attribute is this
    user's (what the evaluator sets, `strikeboard.feed.alerts.publish_email`)."""
    return json.dumps({"user_id": [user_id]})


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _unavailable(what: str, exc: Exception, address: str = "") -> UnavailableError:
    text = str(exc).replace(address, mask_email(address)) if address else str(exc)
    log.warning("alerts e-mail: %s failed: %s", what, text)
    return UnavailableError(f"e-mail subscriptions unavailable: {what} failed")


def subscribe(sns: Any, topic_arn: str, user_id: str, address: str) -> str:
    """Subscribe ``address`` to the user's alerts; the subscription's ARN (pending until the
    link SNS mails is followed). ConflictError when SNS has the address subscribed with
    another filter (another user's, or one made by hand)."""
    try:
        made = sns.subscribe(
            TopicArn=topic_arn, Protocol="email", Endpoint=address,
            Attributes={"FilterPolicy": filter_policy(user_id)},
            ReturnSubscriptionArn=True,  # the ARN even while pending: GET and DELETE need it
        )  # fmt: skip
    except ClientError as exc:
        if _code(exc) == "InvalidParameter" and "already exists" in str(exc):
            raise ConflictError(TAKEN) from None
        raise _unavailable("subscribing", exc, address) from None
    except BotoCoreError as exc:
        raise _unavailable("subscribing", exc, address) from None
    arn = str(made["SubscriptionArn"])
    log.info("alerts e-mail: user %s subscribed %s", user_id, mask_email(address))
    return arn


def describe(sns: Any, subscription_arn: str) -> tuple[State, str] | None:
    """The subscription's state and address; None when SNS has it no more (unsubscribed
    from a mail's link, or never confirmed: SNS deletes those after 48 hours)."""
    try:
        attributes = sns.get_subscription_attributes(SubscriptionArn=subscription_arn)
    except ClientError as exc:
        if _code(exc) in ("NotFound", "NotFoundException"):
            return None
        raise _unavailable("reading the subscription", exc) from None
    except BotoCoreError as exc:
        raise _unavailable("reading the subscription", exc) from None
    found = attributes.get("Attributes", {})
    pending = str(found.get("PendingConfirmation", "false")).lower() == "true"
    return ("pending" if pending else "confirmed"), str(found.get("Endpoint", ""))


def unsubscribe(sns: Any, user_id: str, subscription_arn: str) -> None:
    """Delete the subscription (one already gone is fine). One SNS refuses to delete as
    invalid (a subscription still pending confirmation, which the console cannot delete
    either) is left to SNS, which deletes unconfirmed subscriptions after 48 hours: nothing
    is mailed to it unless its link is followed."""
    try:
        sns.unsubscribe(SubscriptionArn=subscription_arn)
    except ClientError as exc:
        if _code(exc) in ("NotFound", "NotFoundException"):
            return
        if _code(exc) == "InvalidParameter":
            log.warning("alerts e-mail: user %s's subscription left to expire: %s", user_id,
                        _code(exc))  # fmt: skip
            return
        raise _unavailable("unsubscribing", exc) from None
    except BotoCoreError as exc:
        raise _unavailable("unsubscribing", exc) from None
    log.info("alerts e-mail: user %s unsubscribed", user_id)
