"""Jobs: EventBridge Scheduler (Asia/Kolkata) -> the feed's market-hours schedule, the EOD and
the cleanup Lambdas, each target with retries and a dead-letter queue."""

from __future__ import annotations

from datetime import time
from typing import Any

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack, TimeZone
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_secretsmanager as sm
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.assets import LAMBDA_ARCHITECTURE, lambda_code, lambda_tracing
from infra.nag import acknowledge
from infra.stacks.api import vpc_function
from strikeboard.market.calendar import SPECIAL_SESSIONS
from strikeboard.market.feed_hours import Action, Alarm, Session, regular_times, special_window

TIME_ZONE = TimeZone.ASIA_KOLKATA
# (minute, hour) in IST: EOD after the feed's stop (16:05, its final archive done); cleanup
# late at night. Both skip days that do not trade (lambdas/jobs.py).
EOD_AT = ("15", "16")
CLEANUP_AT = ("30", "23")
WEEKDAYS = "MON-FRI"
RETRY_ATTEMPTS = 2
MAX_EVENT_AGE = Duration.hours(1)


def _input(extra: dict[str, Any] | None = None) -> scheduler.ScheduleTargetInput:
    # The shape of an EventBridge scheduled event: the handlers read `time` (the scheduled
    # time, so a late or retried run still processes its own day) and `detail.day`.
    return scheduler.ScheduleTargetInput.from_object(
        {
            "source": "strikeboard.scheduler",
            "detail-type": "Scheduled Event",
            "time": scheduler.ContextAttribute.scheduled_time,
            "detail": {},
            **(extra or {}),
        }
    )


Cron = dict[str, str]  # ScheduleExpression.cron's fields (IST)


def special_crons() -> list[tuple[Session, Action, Cron]]:
    """A yearly cron (its date, no year: a past date is never invalid) per action of each
    special session of the calendar; in other years the Lambda finds no session and skips."""
    out = []
    for special in SPECIAL_SESSIONS:
        session = special_window(special)
        for action in Action:
            at = session.at(action)
            cron = {"minute": str(at.minute), "hour": str(at.hour), "day": str(at.day),
                    "month": str(at.month)}  # fmt: skip
            out.append((session, action, cron))
    return out


class JobsStack(Stack):
    """`lambdas.feed_schedule.handler` at the feed's five actions (Monday-Friday, 08:30 to
    16:05 IST, and on each special session's date), `lambdas.jobs.eod_handler` at 16:15 IST
    and `lambdas.jobs.cleanup_handler` at 23:30 IST, Monday-Friday. The handlers check the
    trading calendar (holidays are skipped and recorded)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        lambda_sg: ec2.ISecurityGroup,
        environment: dict[str, str],
        db_secret: sm.ISecret,
        feed_service: ecs.FargateService,
        alarm_prefix: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        env = {
            **environment,
            "POWERTOOLS_SERVICE_NAME": "strikeboard-jobs",
            # DATABASE_URL carries no password (see DataStack): resolved at deploy time.
            "PGPASSWORD": db_secret.secret_value_from_json("password").unsafe_unwrap(),
        }
        # Every schedule's events that fail all retries (or are too old) land here; the Ops
        # stack alarms on its depth.
        self.dead_letters = sqs.Queue(
            self, "ScheduleDeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
            retention_period=Duration.days(14), removal_policy=RemovalPolicy.DESTROY,
        )  # fmt: skip
        acknowledge(
            self.dead_letters,
            {"AwsSolutions-SQS3": "This queue is the schedules' dead-letter queue itself."},
        )
        self.functions: dict[str, lambda_.IFunction] = {}
        self.schedules: dict[str, scheduler.Schedule] = {}
        for name, handler, (minute, hour) in (
            ("Eod", "lambdas.jobs.eod_handler", EOD_AT),
            ("Cleanup", "lambdas.jobs.cleanup_handler", CLEANUP_AT),
        ):
            fn = vpc_function(
                self, f"{name}Function", handler=handler, vpc=vpc, security_group=lambda_sg,
                environment=env,
                timeout=Duration.minutes(5),
            )  # fmt: skip
            self.functions[name] = fn
            self._schedule(
                name, fn, f"Strikeboard {name} ({hour}:{minute} IST, {WEEKDAYS})",
                {"minute": minute, "hour": hour, "week_day": WEEKDAYS},
                _input(),
            )  # fmt: skip

        # -- the feed's market hours (strikeboard/market/feed_hours.py) -------------------------
        self.feed_schedule = self._feed_schedule_function(feed_service, alarm_prefix)
        self.functions["FeedSchedule"] = self.feed_schedule
        for action, at in regular_times().items():
            self._feed_action(
                f"Feed{action.value.title()}", action, at,
                {"minute": str(at.minute), "hour": str(at.hour), "week_day": WEEKDAYS},
            )  # fmt: skip
        for session, action, cron in special_crons():
            self._feed_action(
                f"Feed{action.value.title()}{session.open:%Y%m%d}", action,
                session.at(action).time(), cron,
                day=f"{session.name} {session.open:%Y-%m-%d}",
            )  # fmt: skip

    def _feed_schedule_function(
        self, service: ecs.FargateService, alarm_prefix: str
    ) -> lambda_.DockerImageFunction:
        """Outside the VPC: it only calls the ECS and CloudWatch APIs."""
        log_group = logs.LogGroup(
            self, "FeedScheduleFunctionLogs", retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )  # fmt: skip
        fn = lambda_.DockerImageFunction(
            self,
            "FeedScheduleFunction",
            code=lambda_code("lambdas.feed_schedule.handler"),
            architecture=LAMBDA_ARCHITECTURE,
            memory_size=256,
            timeout=Duration.seconds(30),
            environment={
                "FEED_CLUSTER": service.cluster.cluster_name,
                "FEED_SERVICE": service.service_name,
                "ALARM_PREFIX": alarm_prefix,
                "POWERTOOLS_SERVICE_NAME": "strikeboard-feed-schedule",
                "LOG_LEVEL": "INFO",
            },
            log_group=log_group,
            tracing=lambda_tracing(self),
        )
        fn.add_to_role_policy(
            iam.PolicyStatement(actions=["ecs:UpdateService"], resources=[service.service_arn])
        )
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "cloudwatch:EnableAlarmActions",
                    "cloudwatch:DisableAlarmActions",
                    "cloudwatch:SetAlarmState",
                ],
                resources=[
                    self.format_arn(
                        service="cloudwatch",
                        resource="alarm",
                        resource_name=f"{alarm_prefix}{a}",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                    for a in Alarm
                ],
            )
        )
        return fn

    def _feed_action(
        self, name: str, action: Action, at: time, cron: Cron, day: str = WEEKDAYS,
    ) -> None:  # fmt: skip
        self._schedule(
            name, self.feed_schedule, f"Strikeboard feed {action.value} ({at:%H:%M} IST, {day})",
            cron, _input({"action": action.value}),
        )  # fmt: skip

    def _schedule(
        self, name: str, fn: lambda_.IFunction, description: str,
        cron: Cron, payload: scheduler.ScheduleTargetInput,
    ) -> None:  # fmt: skip
        logical = self.get_logical_id(fn.node.default_child)  # type: ignore[arg-type]
        acknowledge(
            self,
            {
                f"AwsSolutions-IAM5[Resource::<{logical}.Arn>:*]": "The scheduler may "
                "invoke the function's versions/aliases (CDK's LambdaInvoke grant)."
            },
        )
        self.schedules[name] = scheduler.Schedule(
            self,
            f"{name}Schedule",
            description=description,
            schedule=scheduler.ScheduleExpression.cron(time_zone=TIME_ZONE, **cron),
            target=targets.LambdaInvoke(
                fn,
                input=payload,
                retry_attempts=RETRY_ATTEMPTS,
                max_event_age=MAX_EVENT_AGE,
                dead_letter_queue=self.dead_letters,
            ),
        )
