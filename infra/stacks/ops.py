"""Ops: the alarms (to an SNS topic, with an email subscription when `alarm_email` is given)
and a CloudWatch dashboard with the feed's figures (docs/deploy.md, "Operations").

Market-hours alarms (strikeboard/market/feed_hours.py `Alarm`: no tick, token, no task) have
fixed names, `<prefix>-<suffix>`: the feed's schedule Lambda turns their actions on at the
session's times and off after it, since a CloudWatch alarm cannot follow the trading calendar.
Every alarm treats missing data as not breaching: the feed only emits its metrics while it
runs, and a stopped feed is the normal state outside market hours.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.nag import acknowledge
from strikeboard.market.feed_hours import Action, Alarm, regular_times

NAMESPACE = "Strikeboard"  # the feed's Powertools metrics (feed_container/__main__.py)
FEED_DIMENSIONS = {"service": "feed"}
MINUTE = Duration.minutes(1)
NO_TICK_AFTER_S = 60
# Spool records not yet in PostgreSQL (about one per second of ticks): 5 minutes behind.
ARCHIVE_LAG_RECORDS = 300
DB_FREE_STORAGE_BYTES = 2 * 1024**3
MISSING_OK = cw.TreatMissingData.NOT_BREACHING


def feed_metric(name: str, statistic: str = "Maximum") -> cw.Metric:
    return cw.Metric(
        namespace=NAMESPACE, metric_name=name, dimensions_map=FEED_DIMENSIONS,
        statistic=statistic, period=MINUTE,
    )  # fmt: skip


class OpsStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alarm_prefix: str,
        alarm_email: str | None,
        feed_service: ecs.FargateService,
        functions: dict[str, lambda_.IFunction],
        database: rds.DatabaseInstance,
        dead_letters: list[sqs.IQueue],
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.topic = sns.Topic(self, "Alarms", display_name="Strikeboard alarms", enforce_ssl=True)
        acknowledge(
            self.topic,
            {
                "AwsSolutions-SNS2": "Alarm notifications carry no data beyond the alarm; "
                "CloudWatch cannot publish to a topic under the AWS-managed SNS key, and a "
                "customer key would cost more than the topic."
            },
        )
        if alarm_email:
            self.topic.add_subscription(subs.EmailSubscription(alarm_email))
        self.alarms: dict[str, cw.Alarm] = {}
        cluster = feed_service.cluster.cluster_name
        service = feed_service.service_name

        # -- market hours (armed and disarmed by the schedule Lambda) ------------------------
        self._alarm(
            "NoTick", feed_metric("LastTickAgeSeconds"), threshold=NO_TICK_AFTER_S,
            evaluation_periods=2, name=f"{alarm_prefix}{Alarm.TICKS}",
            description=f"No tick for over {NO_TICK_AFTER_S} s in market hours (the feed's "
            "LastTickAgeSeconds; before any tick it reports its own age).",
        )  # fmt: skip
        self._alarm(
            "Token",
            cw.MathExpression(
                expression="expired + waiting",
                using_metrics={
                    "expired": feed_metric("TokenExpired"),
                    "waiting": feed_metric("TokenWaiting"),
                },
                label="Kite token expired or missing",
                period=MINUTE,
            ),
            threshold=1,
            evaluation_periods=2,
            datapoints_to_alarm=1,
            comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            name=f"{alarm_prefix}{Alarm.TOKEN}",
            description="The feed has no valid Kite token (expired, or none stored) from "
            f"{regular_times()[Action.TOKEN]:%H:%M} IST: an admin must log in to Kite.",
        )
        # AWS/ECS publishes CPUUtilization once a minute per running task of the service
        # (free, unlike Container Insights): its sample count is the number of tasks reporting,
        # and no data at all means none runs. Missing data breaches; the schedule forces the
        # alarm to OK when it arms it, so a stopped night does not swallow the page.
        tasks = cw.Metric(
            namespace="AWS/ECS", metric_name="CPUUtilization",
            dimensions_map={"ClusterName": cluster, "ServiceName": service},
            statistic="SampleCount", period=MINUTE,
        )  # fmt: skip
        self._alarm(
            "NoTask", tasks, threshold=1, evaluation_periods=5,
            comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
            missing=cw.TreatMissingData.BREACHING,
            name=f"{alarm_prefix}{Alarm.TASK}",
            description="No running feed task for 5 minutes while the schedule wants one "
            "(no AWS/ECS CPUUtilization sample from the feed service).",
        )  # fmt: skip

        # -- always armed ----------------------------------------------------------------------
        self._alarm(
            "ArchiveLag", feed_metric("ArchiveLagRecords"), threshold=ARCHIVE_LAG_RECORDS,
            evaluation_periods=5,
            description=f"Over {ARCHIVE_LAG_RECORDS} spool records (about 5 minutes of ticks) "
            "not in PostgreSQL for 5 minutes.",
        )  # fmt: skip
        for name, fn in functions.items():
            for kind, metric in (
                ("Errors", fn.metric_errors()),
                ("Throttles", fn.metric_throttles()),
            ):
                self._alarm(
                    f"{name}{kind}", metric.with_(period=Duration.minutes(5), statistic="Sum"),
                    threshold=1, evaluation_periods=1,
                    comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    description=f"Lambda {name}: {kind.lower()} in the last 5 minutes.",
                )  # fmt: skip
        self._alarm(
            "DbFreeStorage",
            database.metric_free_storage_space(period=Duration.minutes(5), statistic="Minimum"),
            threshold=DB_FREE_STORAGE_BYTES, evaluation_periods=1,
            comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
            description="PostgreSQL has under 2 GiB free (storage autoscaling may be at its "
            "maximum).",
        )  # fmt: skip
        for i, queue in enumerate(dead_letters):
            self._alarm(
                f"DeadLetters{i or ''}",
                queue.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(5), statistic="Maximum"
                ),
                threshold=1, evaluation_periods=1,
                comparison=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                description="A scheduled invocation failed all its retries (feed start/stop, "
                "EOD or cleanup): see the message in the dead-letter queue.",
            )  # fmt: skip

        self.dashboard = self._dashboard(tasks)

    def _alarm(
        self, construct_id: str, metric: cw.IMetric, *, threshold: float,
        evaluation_periods: int, description: str, name: str | None = None,
        datapoints_to_alarm: int | None = None,
        comparison: cw.ComparisonOperator = cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        missing: cw.TreatMissingData = MISSING_OK,
    ) -> cw.Alarm:  # fmt: skip
        alarm = cw.Alarm(
            self, construct_id, metric=metric, threshold=threshold,
            evaluation_periods=evaluation_periods, datapoints_to_alarm=datapoints_to_alarm,
            comparison_operator=comparison, treat_missing_data=missing,
            alarm_name=name, alarm_description=description,
        )  # fmt: skip
        alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        self.alarms[construct_id] = alarm
        return alarm

    def _dashboard(self, tasks: cw.Metric) -> cw.Dashboard:
        times = regular_times()
        text = (
            "# Strikeboard feed\n"
            f"On trading days the feed runs from {times[Action.START]:%H:%M} to "
            f"{times[Action.STOP]:%H:%M} IST (and around special sessions such as Muhurat "
            "trading); **outside those hours it is stopped, and empty graphs are normal**. "
            "The no-tick, token and task alarms page only during the session."
        )
        dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"{self.stack_name}-feed")
        dashboard.add_widgets(
            cw.TextWidget(markdown=text, width=16, height=3),
            cw.AlarmStatusWidget(
                alarms=list(self.alarms.values()), width=8, height=3, title="Alarms"
            ),
        )
        m = feed_metric
        rows: list[list[tuple[str, list[cw.IMetric]]]] = [
            [("Last tick age (s)", [m("LastTickAgeSeconds")]),
             ("Ticks per second", [m("TicksPerSecond", "Average")]),
             ("Feed tasks reporting", [tasks])],
            [("Archive lag (spool records)", [m("ArchiveLagRecords")]),
             ("Chain cycle (ms, average and max)", [m("CycleMs", "Average"), m("CycleMs")]),
             ("Token expired / waiting, degraded, silent sockets",
              [m("TokenExpired"), m("TokenWaiting"), m("Degraded"), m("SilentSockets")])],
            [("Bad messages, gap fills pending", [m("BadMessages"), m("GapFillsPending")])],
        ]  # fmt: skip
        for row in rows:
            dashboard.add_widgets(
                *(
                    cw.GraphWidget(title=title, left=metrics, width=8, height=6)
                    for title, metrics in row
                )
            )
        return dashboard
