"""The Strikeboard CDK app: `npx aws-cdk@2 deploy --all` from the repository root (cdk.json).

Context (``-c key=value`` or cdk.json "context"), all optional:

- ``kite_api_key``: Kite Connect API key, KITE_API_KEY of the feed and the API (plain config:
  it is in every login URL). Keep it in cdk.json's "context" so every deploy carries it
- ``kite_secret_name`` (``strikeboard/kite``): the secret the stack creates, once and with no
  value in the template, for the daily access token
- ``kite_api_secret_name``: an existing secret holding the Kite API secret (plain string);
  without it the daily login route answers 503 and tokens are put in the secret by hand
- ``domain_name`` + ``certificate_arn`` (ACM, us-east-1): a custom domain for CloudFront
- ``underlyings`` (``NIFTY``): UNDERLYINGS of the feed, the API and the jobs, e.g.
  ``NIFTY,BANKNIFTY,SENSEX`` (an unknown name fails the synthesis)
- ``multi_az`` (false): Redis replica + Multi-AZ PostgreSQL
- ``egress`` (``none``): the private subnets' way out: ``none`` (isolated, nothing there
  needs the internet), a t4g.nano NAT ``instance`` or a NAT ``gateway``; ``nat_gateways``
  (1): how many of them
- ``tracing`` (false): X-Ray active tracing on the Lambdas
- ``feed_cpu`` (512) and ``feed_memory_mb`` (2048): the feed task's Fargate size (0.5 vCPU
  holds ten users' push; docs/deploy.md sizes it for more)
- ``container_insights`` (false): ECS Container Insights on the feed's cluster
- ``web_dist`` (``web/dist``): the built SPA to upload (skipped if it has no index.html)
- ``prefix`` (``Strikeboard``): stack name prefix (several deployments in one account)
- ``cognito_domain_prefix`` (``<prefix>api-<account id>``, lowercased): the hosted sign-in
  page's domain, https://PREFIX.auth.REGION.amazoncognito.com (unique per region)
- ``alarm_email``: an address subscribed to the alarms' SNS topic (it must confirm the
  subscription); without it the topic has no subscriber
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk

from infra.assets import ROOT
from infra.nag import LAMBDA_MANAGED, acknowledge, add_checks
from infra.stacks.api import ApiStack, app_environment
from infra.stacks.data import DataStack
from infra.stacks.feed import FeedStack
from infra.stacks.jobs import JobsStack
from infra.stacks.network import NetworkStack
from infra.stacks.ops import OpsStack
from infra.stacks.web import WebStack


def _flag(value: Any) -> bool:
    return str(value).lower() in ("1", "true", "yes")


class Strikeboard:
    """The seven stacks, wired together (attributes for tests)."""

    def __init__(self, app: cdk.App) -> None:
        self.app = app
        ctx = app.node.try_get_context
        prefix = str(ctx("prefix") or "Strikeboard")
        # Environment-agnostic stacks: the account and region are the deploying credentials'
        # (AWS_PROFILE / AWS_REGION), and the template is the same wherever it is synthesized.
        env = None
        kite_api_key = str(ctx("kite_api_key") or "")
        kite_secret_name = str(ctx("kite_secret_name") or "strikeboard/kite")
        multi_az = _flag(ctx("multi_az"))
        # The market-hours alarms' names (<prefix>-feed-no-tick, ...): the Jobs stack's
        # schedule Lambda arms them by name, the Ops stack defines them.
        alarm_prefix = f"{prefix}-"
        web_dist = Path(str(ctx("web_dist") or ROOT / "web" / "dist"))

        self.network = NetworkStack(
            app,
            f"{prefix}Network",
            nat_gateways=int(ctx("nat_gateways") or 1),
            egress=str(ctx("egress") or "none"),  # type: ignore[arg-type]  # checked there
            env=env,
        )
        vpc = self.network.vpc
        self.data = DataStack(
            app,
            f"{prefix}Data",
            vpc=vpc,
            clients=[self.network.feed_sg, self.network.lambda_sg],
            multi_az=multi_az,
            kite_secret_name=kite_secret_name,
            env=env,
        )
        if not kite_api_key:
            # A warning, not an error: synthesis (tests, `cdk destroy`) needs no key.
            cdk.Annotations.of(self.data).add_warning_v2(
                "strikeboard:kite-api-key",
                "context kite_api_key is empty: the feed exits at start without KITE_API_KEY "
                "(set it in cdk.json or with -c kite_api_key=...)",
            )
        environment = app_environment(
            redis_url=self.data.redis_url,
            database_url=self.data.database_url,
            kite_secret_name=kite_secret_name,
            kite_api_key=kite_api_key,
            underlyings=str(ctx("underlyings") or "NIFTY"),
            alerts_topic_arn=self.data.user_alerts.topic_arn,
        )
        self.api = ApiStack(
            app,
            f"{prefix}Api",
            vpc=vpc,
            lambda_sg=self.network.lambda_sg,
            environment=environment,
            db_secret=self.data.db_secret,
            kite_secret=self.data.kite_secret,
            kite_api_secret_name=str(ctx("kite_api_secret_name") or "") or None,
            domain_prefix=str(ctx("cognito_domain_prefix") or "") or None,
            env=env,
        )
        self.feed = FeedStack(
            app,
            f"{prefix}Feed",
            vpc=vpc,
            feed_sg=self.network.feed_sg,
            environment=environment,
            db_secret=self.data.db_secret,
            kite_secret=self.data.kite_secret,
            user_alerts=self.data.user_alerts,
            user_alerts_export=self.data.user_alerts_export,
            ws_api_id_export=self.api.ws_api_id_export,
            ws_stage_name=self.api.ws_stage.stage_name,
            push_endpoint_url=self.api.push_endpoint_url,
            cpu=int(ctx("feed_cpu") or 512),
            memory_mib=int(ctx("feed_memory_mb") or 2048),
            container_insights=_flag(ctx("container_insights")),
            env=env,
        )
        self.feed.add_dependency(self.api)  # the named export it imports
        self.jobs = JobsStack(
            app,
            f"{prefix}Jobs",
            vpc=vpc,
            lambda_sg=self.network.lambda_sg,
            environment=environment,
            db_secret=self.data.db_secret,
            feed_service=self.feed.service,
            alarm_prefix=alarm_prefix,
            env=env,
        )
        self.ops = OpsStack(
            app,
            f"{prefix}Ops",
            alarm_prefix=alarm_prefix,
            alarm_email=str(ctx("alarm_email") or "") or None,
            feed_service=self.feed.service,
            functions={
                "Http": self.api.http_function,
                "Ws": self.api.ws_function,
                "KiteLogin": self.api.kite_login_function,
                **self.jobs.functions,
            },
            database=self.data.db,
            dead_letters=[self.jobs.dead_letters],
            env=env,
        )
        self.web = WebStack(
            app,
            f"{prefix}Web",
            http_api_domain=self.api.http_api_domain,
            ws_api_domain=self.api.ws_api_domain,
            ws_stage=self.api.ws_stage.stage_name,
            web_dist=web_dist,
            sign_in=self.api.sign_in,
            cognito_domain=self.api.domain.base_url(),
            domain_name=ctx("domain_name"),
            certificate_arn=ctx("certificate_arn"),
            env=env,
        )
        self.stacks: list[cdk.Stack] = [
            self.network, self.data, self.api, self.feed, self.jobs, self.ops, self.web,
        ]  # fmt: skip
        for stack in self.stacks:
            cdk.Tags.of(stack).add("project", "strikeboard")
        self._nag(app)

    def _nag(self, app: cdk.App) -> None:
        """AwsSolutions checks over every stack (synthesis fails on an unacknowledged one)."""
        add_checks(app)
        for stack in (self.api, self.jobs, self.feed, self.web):
            acknowledge(stack, LAMBDA_MANAGED)


def build_app(context: dict[str, Any] | None = None, outdir: str | None = None) -> Strikeboard:
    """The app with its stacks (tests pass context and a temporary outdir)."""
    app = cdk.App(context=context or {}, outdir=outdir)
    return Strikeboard(app)


if __name__ == "__main__":
    build_app().app.synth()
