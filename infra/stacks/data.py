"""Data: ElastiCache Redis (hot data) and RDS PostgreSQL 15 (history), reachable only from
the feed task and the Lambdas; the users' e-mail alerts topic."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as sm
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.nag import acknowledge
from infra.stacks.network import PRIVATE_SUBNETS

REDIS_PORT = 6379
POSTGRES_PORT = 5432
DB_NAME = "strikeboard"
DB_USER = "strikeboard"
# Backups and maintenance outside market hours (09:00-16:00 IST = 03:30-10:30 UTC).
DB_BACKUP_WINDOW = "20:30-21:00"
DB_MAINTENANCE_WINDOW = "sun:21:30-sun:22:00"
REDIS_SNAPSHOT_WINDOW = "19:30-20:30"
REDIS_MAINTENANCE_WINDOW = "sun:22:00-sun:23:00"


class DataStack(Stack):
    """Redis replication group (cluster mode disabled, TLS, encrypted at rest) and PostgreSQL
    15 (storage encrypted, credentials generated into Secrets Manager).

    `redis_url` and `database_url` are what the app's REDIS_URL / DATABASE_URL get. The
    database URL carries no password: libpq reads it from PGPASSWORD, which ECS injects from
    the secret (`db_secret`, field `password`).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        clients: list[ec2.ISecurityGroup],
        redis_node_type: str = "cache.t4g.micro",
        db_instance_type: str = "t4g.micro",
        multi_az: bool = False,
        kite_secret_name: str = "strikeboard/kite",
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        private = vpc.select_subnets(subnet_group_name=PRIVATE_SUBNETS)

        self.redis_sg = ec2.SecurityGroup(
            self, "RedisSg", vpc=vpc, description="Redis: the feed and the Lambdas only",
            allow_all_outbound=False,
        )  # fmt: skip
        self.db_sg = ec2.SecurityGroup(
            self, "DbSg", vpc=vpc, description="PostgreSQL: the feed and the Lambdas only",
            allow_all_outbound=False,
        )  # fmt: skip
        for client in clients:
            self.redis_sg.add_ingress_rule(client, ec2.Port.tcp(REDIS_PORT), "Redis from app")
            self.db_sg.add_ingress_rule(client, ec2.Port.tcp(POSTGRES_PORT), "PostgreSQL from app")

        subnet_group = elasticache.CfnSubnetGroup(
            self,
            "RedisSubnets",
            description="Strikeboard Redis (private subnets)",
            subnet_ids=private.subnet_ids,
        )
        self.redis = elasticache.CfnReplicationGroup(
            self,
            "Redis",
            replication_group_description="Strikeboard hot data",
            # Valkey: the Redis 7.2 protocol at 20 % less a node-hour than Redis OSS.
            engine="valkey",
            engine_version="8.0",
            cache_node_type=redis_node_type,
            num_cache_clusters=2 if multi_az else 1,
            automatic_failover_enabled=multi_az,
            multi_az_enabled=multi_az,
            cache_subnet_group_name=subnet_group.ref,
            security_group_ids=[self.redis_sg.security_group_id],
            port=REDIS_PORT,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            at_rest_encryption_enabled=True,
            snapshot_retention_limit=1,
            # UTC; in IST 01:00-02:00 daily and Monday 03:30-04:30.
            snapshot_window=REDIS_SNAPSHOT_WINDOW,
            preferred_maintenance_window=REDIS_MAINTENANCE_WINDOW,
        )
        self.redis_url = (
            f"rediss://{self.redis.attr_primary_end_point_address}:"
            f"{self.redis.attr_primary_end_point_port}/0"
        )

        self.db = rds.DatabaseInstance(
            self,
            "Postgres",
            engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_15_17),
            instance_type=ec2.InstanceType(db_instance_type),
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_group_name=PRIVATE_SUBNETS),
            security_groups=[self.db_sg],
            credentials=rds.Credentials.from_generated_secret(DB_USER),
            database_name=DB_NAME,
            port=POSTGRES_PORT,
            storage_encrypted=True,
            allocated_storage=20,
            storage_type=rds.StorageType.GP3,
            max_allocated_storage=200,
            multi_az=multi_az,
            backup_retention=Duration.days(7),
            cloudwatch_logs_exports=["postgresql"],
            removal_policy=RemovalPolicy.SNAPSHOT,
            deletion_protection=True,
            # UTC; in IST 02:00-02:30 daily and Monday 03:00-03:30, far from 09:00-16:00.
            preferred_backup_window=DB_BACKUP_WINDOW,
            preferred_maintenance_window=DB_MAINTENANCE_WINDOW,
        )
        assert self.db.secret is not None  # from_generated_secret always makes one
        self.db_secret = self.db.secret
        self.database_url = (
            f"postgresql://{DB_USER}@{self.db.db_instance_endpoint_address}:"
            f"{self.db.db_instance_endpoint_port}/{DB_NAME}?sslmode=require"
        )

        # The Kite secret the feed reads and the login callback rewrites every morning:
        # {"access_token"} (strikeboard/kite/credentials.py); the API key is plain config
        # (KITE_API_KEY). No value in the template, or every deploy would put it back over the
        # day's token: CloudFormation generates the first value once and never again while
        # these properties stay the same. The template makes that value JSON without a token
        # (the feed's "waiting"), so the secret has its documented shape from the start; the
        # generated `placeholder` key only exists because the generator must fill one key.
        self.kite_secret = sm.Secret(
            self,
            "KiteSecret",
            secret_name=kite_secret_name,
            description="Strikeboard Kite daily access_token (written by the Kite login)",
            generate_secret_string=sm.SecretStringGenerator(
                secret_string_template=json.dumps({"access_token": ""}),
                generate_string_key="placeholder",
                exclude_punctuation=True,
                password_length=16,
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.kite_secret,
            {
                "AwsSolutions-SMG4": (
                    "Kite access tokens expire daily and are replaced by the login route."
                ),
            },
        )

        # The users' alerts by e-mail (docs/alerts.md): a topic of their own, apart from the
        # operators' alarms (Ops stack), so that neither list gets the other's mail. The feed
        # publishes each fire with a `user_id` attribute; each user's address is an e-mail
        # subscription filtered on it. Encrypted with the AWS-managed SNS key: the feed's
        # task role may use it through SNS without a key policy of ours (CloudWatch could not,
        # hence the alarms' topic is not).
        self.user_alerts = sns.Topic(
            self, "UserAlerts", display_name="Strikeboard alerts", enforce_ssl=True,
            master_key=kms.Alias.from_alias_name(self, "SnsKey", "alias/aws/sns"),
        )  # fmt: skip
        # Named: the feed's policy on the topic's subscriptions (`<arn>:*`) imports it, and
        # cdk-nag's finding for that wildcard names the import (infra/stacks/feed.py).
        self.user_alerts_export = f"{self.stack_name}-UserAlertsArn"
        CfnOutput(self, "UserAlertsArn", value=self.user_alerts.topic_arn,
                  export_name=self.user_alerts_export)  # fmt: skip

        acknowledge(
            self.redis,
            {
                "AwsSolutions-AEC4": (
                    "Single node by default for cost (context multi_az=true adds a "
                    "replica); the feed rebuilds every hot key after a Redis loss."
                ),
                "AwsSolutions-AEC5": ("Default port; reachable only from two SGs."),
                "AwsSolutions-AEC6": (
                    "No AUTH token: REDIS_URL is plain config; access is limited to the "
                    "feed/Lambda security groups in private subnets, and traffic is TLS."
                ),
            },
        )
        acknowledge(
            self.db,
            {
                "AwsSolutions-RDS3": (
                    "Single-AZ by default for cost (context multi_az=true); the feed "
                    "spools to disk and retries while PostgreSQL is down."
                ),
                "AwsSolutions-RDS11": ("Default port; reachable only from two SGs."),
                "AwsSolutions-SMG4": (
                    "Lambdas resolve the password at deploy time; rotation would need a "
                    "redeploy, so it is a manual operation (docs/deploy.md)."
                ),
            },
        )
