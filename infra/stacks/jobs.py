"""Jobs: EventBridge Scheduler (Asia/Kolkata, Monday-Friday) -> the EOD and cleanup Lambdas."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack, TimeZone
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_secretsmanager as sm
from constructs import Construct

from infra.nag import acknowledge
from infra.stacks.api import vpc_function

TIME_ZONE = TimeZone.ASIA_KOLKATA
# (minute, hour) in IST: EOD after the 15:30 close; cleanup late at night.
EOD_AT = ("15", "16")
CLEANUP_AT = ("30", "23")
WEEKDAYS = "MON-FRI"


def _input() -> scheduler.ScheduleTargetInput:
    # The shape of an EventBridge scheduled event: lambdas.jobs reads `time` (the scheduled
    # time, so a late or retried run still processes its own day) and `detail.day`.
    return scheduler.ScheduleTargetInput.from_object(
        {
            "source": "strikeboard.scheduler",
            "detail-type": "Scheduled Event",
            "time": scheduler.ContextAttribute.scheduled_time,
            "detail": {},
        }
    )


class JobsStack(Stack):
    """`lambdas.jobs.eod_handler` at 16:15 IST and `lambdas.jobs.cleanup_handler` at 23:30
    IST, Monday-Friday (holidays just produce an empty EOD)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        lambda_sg: ec2.ISecurityGroup,
        environment: dict[str, str],
        db_secret: sm.ISecret,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        env = {
            **environment,
            "POWERTOOLS_SERVICE_NAME": "strikeboard-jobs",
            # DATABASE_URL carries no password (see DataStack): resolved at deploy time.
            "PGPASSWORD": db_secret.secret_value_from_json("password").unsafe_unwrap(),
        }
        self.functions: dict[str, lambda_.DockerImageFunction] = {}
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
                description=f"Strikeboard {name} ({hour}:{minute} IST, {WEEKDAYS})",
                schedule=scheduler.ScheduleExpression.cron(
                    minute=minute, hour=hour, week_day=WEEKDAYS, time_zone=TIME_ZONE
                ),
                target=targets.LambdaInvoke(fn, input=_input(), retry_attempts=2),
            )
