"""Feed: one Fargate task with two containers, the feed and the pusher, from the feed image."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as sm
from constructs import Construct

from infra.assets import FARGATE_CPU, feed_image
from infra.nag import acknowledge
from infra.stacks.api import MANAGE_CONNECTIONS_REASON, manage_connections_finding

# The image's spool directory (feed_container/Dockerfile), owned by its non-root user. It
# lives on the task's ephemeral storage: a Fargate bind-mount volume would be root-owned.
SPOOL_DIR = "/var/lib/strikeboard/spool"

# -- h7-ops: container health checks (strikeboard/heartbeat.py) --------------------------------
# Each container touches HEARTBEAT_FILE from its main loop (the feed every second, the pusher
# every 5 s); ECS replaces the task when the file is older than the limit three times running.
HEARTBEAT_FILE = "/tmp/heartbeat"
HEARTBEAT_MAX_AGE_S = 30


def heartbeat_check() -> ecs.HealthCheck:
    return ecs.HealthCheck(
        command=[
            "CMD",
            "python",
            "-m",
            "strikeboard.heartbeat",
            HEARTBEAT_FILE,
            str(HEARTBEAT_MAX_AGE_S),
        ],
        interval=Duration.seconds(30),
        timeout=Duration.seconds(10),
        retries=3,
        start_period=Duration.seconds(60),
    )


# -- end h7-ops ---------------------------------------------------------------------------------


class FeedStack(Stack):
    """ECS cluster + Fargate service (at most one task: one Kite session per deployment;
    started and stopped around the market's sessions by the Jobs stack's schedule).

    Containers: `feed` (`python -m feed_container`) and `pusher` (`python -m
    strikeboard.push`, posting to the WebSocket API's @connections). Deployments stop the
    old task before starting the new one, so two feeds never run at once.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        feed_sg: ec2.ISecurityGroup,
        environment: dict[str, str],
        db_secret: sm.ISecret,
        kite_secret: sm.ISecret,
        ws_api_id_export: str,
        ws_stage_name: str,
        push_endpoint_url: str,
        cpu: int = 1024,
        memory_mib: int = 2048,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.cluster = ecs.Cluster(
            self, "Cluster", vpc=vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
        )  # fmt: skip
        self.task = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=cpu,
            memory_limit_mib=memory_mib,
            ephemeral_storage_gib=30,  # the spool, while PostgreSQL is unreachable
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=FARGATE_CPU,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )  # fmt: skip
        image = feed_image()
        secrets = {"PGPASSWORD": ecs.Secret.from_secrets_manager(db_secret, "password")}
        self.feed = self.task.add_container(
            "feed",
            image=image,
            command=["python", "-m", "feed_container"],
            essential=True,
            environment={**environment, "SPOOL_DIR": SPOOL_DIR, "HEARTBEAT_FILE": HEARTBEAT_FILE},
            health_check=heartbeat_check(),  # h7-ops
            secrets=secrets,
            logging=ecs.LogDrivers.aws_logs(stream_prefix="feed", log_group=log_group),
            stop_timeout=Duration.seconds(60),  # the archiver drains for up to 20 s
        )
        self.pusher = self.task.add_container(
            "pusher",
            image=image,
            command=["python", "-m", "strikeboard.push"],
            essential=True,
            environment={
                **environment,
                "PUSH_ENDPOINT_URL": push_endpoint_url,
                "HEARTBEAT_FILE": HEARTBEAT_FILE,
            },
            health_check=heartbeat_check(),  # h7-ops
            secrets=secrets,
            logging=ecs.LogDrivers.aws_logs(stream_prefix="pusher", log_group=log_group),
        )
        kite_secret.grant_read(self.task.task_role)
        # The pusher posts to any connection of the stage (ids are known only at run time).
        # The API id comes from a named export so that the resource is predictable for nag.
        connections = self.format_arn(
            service="execute-api",
            resource=Fn.import_value(ws_api_id_export),
            resource_name=f"{ws_stage_name}/*/@connections/*",
        )
        self.task.add_to_task_role_policy(
            iam.PolicyStatement(actions=["execute-api:ManageConnections"], resources=[connections])
        )
        acknowledge(
            self.task.task_role,
            {
                manage_connections_finding(ws_api_id_export, ws_stage_name): (
                    MANAGE_CONNECTIONS_REASON
                )
            },
        )

        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.task,
            # h7-ops: no desired count in the template: the market-hours schedule
            # (lambdas.feed_schedule) owns it, and a deploy keeps whatever it set (a new
            # service starts with 1).
            min_healthy_percent=0,
            max_healthy_percent=100,
            security_groups=[feed_sg],
            # Public subnets with a public IP: Kite and the AWS APIs without NAT charges (the
            # security group admits no inbound traffic).
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            assign_public_ip=True,
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            enable_execute_command=False,
        )

        acknowledge(
            self.task,
            {
                "AwsSolutions-ECS2": (
                    "Only non-secret settings are environment variables; the database "
                    "password comes from Secrets Manager (ECS secrets), Kite from its secret."
                ),
            },
        )
