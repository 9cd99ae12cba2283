"""Feed: one Fargate task with two containers, the feed and the pusher, from the feed image."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_efs as efs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as sm
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.assets import FARGATE_CPU, feed_image
from infra.nag import acknowledge
from infra.stacks.api import MANAGE_CONNECTIONS_REASON, manage_connections_finding

# The image's spool directory (feed_container/Dockerfile), where the task mounts the spool's
# EFS access point (`spool_volume`).
SPOOL_DIR = "/var/lib/strikeboard/spool"

# Container health checks (strikeboard/heartbeat.py).
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


class FeedStack(Stack):
    """ECS cluster + Fargate service (at most one task: one Kite session per deployment;
    started and stopped around the market's sessions by the Jobs stack's schedule).

    Containers: `feed` (`python -m feed_container`) and `pusher` (`python -m
    strikeboard.push`, posting to the WebSocket API's @connections). Deployments stop the
    old task before starting the new one (minimum healthy 0 %, maximum 100 %), so two feeds
    never hold Kite connections at once (three per API key; a feed may use all three) and
    two pushers never send every update twice; the spool's lock (on EFS) is the second guard.
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
        user_alerts: sns.ITopic,
        user_alerts_export: str,
        ws_api_id_export: str,
        ws_stage_name: str,
        push_endpoint_url: str,
        cpu: int = 512,
        memory_mib: int = 2048,
        container_insights: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.cluster = ecs.Cluster(
            self, "Cluster", vpc=vpc,
            # Off by default: its per-task metrics cost about $2 a month, and the alarms and the
            # dashboard need only the feed's own metrics and AWS/ECS CPUUtilization.
            container_insights_v2=ecs.ContainerInsights.ENABLED
            if container_insights
            else ecs.ContainerInsights.DISABLED,
        )  # fmt: skip
        if not container_insights:
            acknowledge(self.cluster, {"AwsSolutions-ECS4": (
                "Off by default to save its metric charges: the feed publishes its own "
                "metrics, and the no-task alarm reads AWS/ECS CPUUtilization (free). Turn it "
                "on with -c container_insights=true."
            )})  # fmt: skip
        self.task = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=cpu,
            memory_limit_mib=memory_mib,
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
            environment={
                **environment,
                "SPOOL_DIR": SPOOL_DIR,
                "HEARTBEAT_FILE": HEARTBEAT_FILE,
                "FEED_DRAIN_S": str(FEED_DRAIN_S),
            },
            health_check=heartbeat_check(),
            secrets=secrets,
            logging=ecs.LogDrivers.aws_logs(stream_prefix="feed", log_group=log_group),
            stop_timeout=Duration.seconds(STOP_TIMEOUT_S),  # SIGTERM, then SIGKILL
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
            health_check=heartbeat_check(),
            secrets=secrets,
            logging=ecs.LogDrivers.aws_logs(stream_prefix="pusher", log_group=log_group),
        )
        kite_secret.grant_read(self.task.task_role)
        # The alert evaluator (the feed's publisher process) e-mails fires through the topic.
        user_alerts.grant_publish(self.task.task_role)
        self._manage_subscriptions(user_alerts_export)
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

        self.spool = spool_volume(self, vpc, feed_sg, self.task, self.feed)

        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.task,
            # No desired count in the template: the market-hours schedule
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
        self.service.node.add_dependency(self.spool.mount_targets_available)

        acknowledge(
            self.task,
            {
                "AwsSolutions-ECS2": (
                    "Only non-secret settings are environment variables; the database "
                    "password comes from Secrets Manager (ECS secrets), Kite from its secret."
                ),
            },
        )

    def _manage_subscriptions(self, topic_export: str) -> None:
        """The users' alert e-mail subscriptions are made by the feed (its publisher
        process's worker, docs/alerts.md "E-mail subscriptions"): the API Lambda's isolated
        subnets do not reach SNS, the task's public subnets do. Subscribe names the topic;
        Unsubscribe and GetSubscriptionAttributes a subscription, whose ARN is the topic's
        followed by ``:<id>``. On that topic only (imported by its export's name, which
        cdk-nag's finding for the wildcard names)."""
        topic_arn = Fn.import_value(topic_export)
        self.task.add_to_task_role_policy(
            iam.PolicyStatement(actions=["sns:Subscribe"], resources=[topic_arn])
        )
        self.task.add_to_task_role_policy(iam.PolicyStatement(
            actions=["sns:Unsubscribe", "sns:GetSubscriptionAttributes"],
            resources=[f"{topic_arn}:*"],
        ))  # fmt: skip
        acknowledge(self.task.task_role, {
            f"AwsSolutions-IAM5[Resource::{topic_export}:*]": "The alerts topic's "
            "subscriptions (ARN: the topic's, ':', an id SNS makes): the users' own, which the "
            "feed reads and deletes for them (docs/alerts.md).",
        })  # fmt: skip


# --- The spool on EFS --------------------------------------------------------------------------
# A task replaced (deploy, failure) leaves what it could not archive on the spool (PostgreSQL
# down): on EFS the next task finds it and archives it first. The feed drains on SIGTERM for
# FEED_DRAIN_S, below the container's stop timeout (ECS's SIGKILL), which leaves room for the
# archiver's last PostgreSQL call (connect timeout 3 s, a step of at most 64 records) and
# the close.
STOP_TIMEOUT_S = 60
FEED_DRAIN_S = 40
SPOOL_UID = "10001"  # the image's user (feed_container/Dockerfile)
if FEED_DRAIN_S + 15 > STOP_TIMEOUT_S:
    raise ValueError("FEED_DRAIN_S must leave the feed 15 s of its stop timeout")


def spool_volume(
    scope: Construct, vpc: ec2.IVpc, feed_sg: ec2.ISecurityGroup,
    task: ecs.FargateTaskDefinition, container: ecs.ContainerDefinition,
) -> efs.FileSystem:  # fmt: skip
    """An encrypted EFS file system mounted at SPOOL_DIR through an access point that acts as
    the image's non-root user, over TLS, with the task role's IAM authorization.

    Bursting throughput: the spool takes 336 bytes a tick (0.3 MB/s at 1,000 ticks/s, 3 MB/s
    at the 9,000 the feed is sized for), read back once by the archiver (metered at a third);
    a small file system has a 1 MiB/s baseline, bursts to 100 MiB/s on credits earned in the
    18 idle hours a day, and costs nothing per GB moved (Elastic throughput bills every GB
    written and read: about $20-30 a month at 1,000 ticks/s). Writes take a few ms (fsync per
    group commit, off the ingest thread). No lifecycle policy (segments live for seconds
    to hours, so Infrequent Access would only add its per-GB access charge) and no AWS Backup
    (what is in it is either archived within seconds or waiting for PostgreSQL, which has
    its own backups; a daily copy would restore records the archive already holds). Retained
    on stack deletion: it may hold records PostgreSQL has not taken yet.
    """
    fs = efs.FileSystem(
        scope, "Spool", vpc=vpc, encrypted=True,
        performance_mode=efs.PerformanceMode.GENERAL_PURPOSE,
        throughput_mode=efs.ThroughputMode.BURSTING,
        enable_automatic_backups=False, allow_anonymous_access=False,
        removal_policy=RemovalPolicy.RETAIN,
    )  # fmt: skip
    fs.connections.allow_default_port_from(feed_sg, "NFS from the feed task to its spool")
    access = fs.add_access_point(
        "SpoolAccess",
        path="/spool",
        posix_user=efs.PosixUser(uid=SPOOL_UID, gid=SPOOL_UID),
        create_acl=efs.Acl(owner_uid=SPOOL_UID, owner_gid=SPOOL_UID, permissions="750"),
    )
    fs.add_to_resource_policy(
        iam.PolicyStatement(
            effect=iam.Effect.DENY, principals=[iam.AnyPrincipal()], actions=["*"],
            conditions={"Bool": {"aws:SecureTransport": "false"}},
        )
    )  # fmt: skip
    task.add_volume(
        name="spool",
        efs_volume_configuration=ecs.EfsVolumeConfiguration(
            file_system_id=fs.file_system_id,
            transit_encryption="ENABLED",
            authorization_config=ecs.AuthorizationConfig(
                access_point_id=access.access_point_id, iam="ENABLED"
            ),
        ),
    )
    container.add_mount_points(
        ecs.MountPoint(container_path=SPOOL_DIR, source_volume="spool", read_only=False)
    )
    task.add_to_task_role_policy(
        iam.PolicyStatement(
            actions=["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
            resources=[fs.file_system_arn],
            conditions={"StringEquals": {"elasticfilesystem:AccessPointArn":
                                         access.access_point_arn}},
        )
    )  # fmt: skip
    return fs


# --- end of the spool on EFS -------------------------------------------------------------------
