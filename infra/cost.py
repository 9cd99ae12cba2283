"""What the deployment costs a month: the synthesized templates priced with usage parameters.

`python -m infra.cost` (``make cost``) synthesizes the app (or reads ``--cdk-out DIR``), walks
every resource of every stack and prints a monthly figure per service for 10, 100 and 1,000
users (``--users``). Prices are list prices for ap-south-1 (Mumbai) in `PRICES`, each with its
source and whether it was confirmed against AWS's page (docs/deploy.md, "Costs to expect").

Every resource type is either priced (`PRICERS`) or known to be free (`FREE_TYPES`): an
unknown type raises `UnknownResourceTypeError`, so that a stack cannot add a priced resource the
model does not know (tests/infra/test_cost.py).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

HOURS_PER_MONTH: Final = 730.0
PRICES_DATE: Final = "2026-11-29"
REGION: Final = "ap-south-1"

# -- prices -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    """A list price (USD) per ``unit`` from the AWS page ``source``. ``confirmed`` only when
    the Mumbai figure was read on that page at ``PRICES_DATE``; the others are estimates (the
    published rate as known, the us-east-1 one where Mumbai's was not at hand): check them
    with the AWS Pricing Calculator before relying on the total."""

    usd: float
    unit: str
    source: str
    confirmed: bool = False


_APIGW = "https://aws.amazon.com/api-gateway/pricing/"
_LAMBDA = "https://aws.amazon.com/lambda/pricing/"
_FARGATE = "https://aws.amazon.com/fargate/pricing/"
_VPC = "https://aws.amazon.com/vpc/pricing/"
_EC2 = "https://aws.amazon.com/ec2/pricing/on-demand/"
_RDS = "https://aws.amazon.com/rds/postgresql/pricing/"
_CACHE = "https://aws.amazon.com/elasticache/pricing/"
_CW = "https://aws.amazon.com/cloudwatch/pricing/"
_SM = "https://aws.amazon.com/secrets-manager/pricing/"
_CF = "https://aws.amazon.com/cloudfront/pricing/"
_S3 = "https://aws.amazon.com/s3/pricing/"
_COGNITO = "https://aws.amazon.com/cognito/pricing/"
_XRAY = "https://aws.amazon.com/xray/pricing/"
_ECR = "https://aws.amazon.com/ecr/pricing/"
_EFS = "https://aws.amazon.com/efs/pricing/"
_EBS = "https://aws.amazon.com/ebs/pricing/"
_KMS = "https://aws.amazon.com/kms/pricing/"
_EVENTS = "https://aws.amazon.com/eventbridge/pricing/"
_SQS = "https://aws.amazon.com/sqs/pricing/"

PRICES: Final[dict[str, Price]] = {
    # API Gateway: metering as on the page (32 KB units, messages sent and received); the
    # rates are us-east-1's, assumed for Mumbai.
    "ws_message_per_million": Price(1.00, "million messages (32 KB units)", _APIGW),
    "ws_connection_minute_per_million": Price(0.25, "million connection minutes", _APIGW),
    "http_request_per_million": Price(1.00, "million requests (512 KB units)", _APIGW),
    "lambda_arm_gb_s": Price(0.0000133334, "GB-second (arm64)", _LAMBDA),
    "lambda_x86_gb_s": Price(0.0000166667, "GB-second (x86_64)", _LAMBDA),
    "lambda_request_per_million": Price(0.20, "million requests", _LAMBDA),
    "fargate_arm_vcpu_hour": Price(0.03400, "vCPU-hour (Linux/ARM)", _FARGATE),
    "fargate_arm_gb_hour": Price(0.00373, "GB-hour (Linux/ARM)", _FARGATE),
    "fargate_x86_vcpu_hour": Price(0.04250, "vCPU-hour (Linux/x86)", _FARGATE),
    "fargate_x86_gb_hour": Price(0.00466, "GB-hour (Linux/x86)", _FARGATE),
    "fargate_storage_gb_hour": Price(0.000111, "GB-hour above 20 GB ephemeral", _FARGATE),
    "nat_gateway_hour": Price(0.056, "NAT gateway-hour", _VPC),
    "nat_gateway_gb": Price(0.056, "GB processed", _VPC),
    "interface_endpoint_hour": Price(0.011, "endpoint-hour per AZ", _VPC),
    "interface_endpoint_gb": Price(0.01, "GB processed", _VPC),
    "public_ipv4_hour": Price(0.005, "public IPv4 address-hour", _VPC),
    "ec2_t4g.nano_hour": Price(0.0046, "instance-hour", _EC2),
    "ec2_t4g.micro_hour": Price(0.0092, "instance-hour", _EC2),
    "ebs_gp3_gb_month": Price(0.0912, "GB-month (gp3)", _EBS),
    "rds_db.t4g.micro_hour": Price(0.021, "instance-hour (Single-AZ)", _RDS),
    "rds_db.t4g.small_hour": Price(0.042, "instance-hour (Single-AZ)", _RDS),
    "rds_gp3_gb_month": Price(0.131, "GB-month (gp3)", _RDS),
    "rds_gp2_gb_month": Price(0.131, "GB-month (gp2)", _RDS),
    "cache_redis_cache.t4g.micro_hour": Price(0.0184, "node-hour (Redis OSS)", _CACHE),
    "cache_redis_cache.t4g.small_hour": Price(0.0368, "node-hour (Redis OSS)", _CACHE),
    # Valkey node-hours are listed 20 % below Redis OSS's.
    "cache_valkey_cache.t4g.micro_hour": Price(0.01472, "node-hour (Valkey)", _CACHE),
    "cache_valkey_cache.t4g.small_hour": Price(0.02944, "node-hour (Valkey)", _CACHE),
    "logs_ingest_gb": Price(0.67, "GB ingested", _CW),
    "logs_vended_gb": Price(0.67, "GB ingested (vended, first tier)", _CW),
    "logs_storage_gb_month": Price(0.033, "GB-month archived", _CW),
    "metric_month": Price(0.30, "custom metric-month", _CW),
    "alarm_month": Price(0.10, "standard alarm-month", _CW),
    "dashboard_month": Price(3.00, "dashboard-month (beyond 3 free)", _CW),
    "secret_month": Price(0.40, "secret-month", _SM),
    "secret_api_per_10k": Price(0.05, "10,000 API calls", _SM),
    "data_out_gb": Price(0.1093, "GB to the internet (after 100 GB free)", _EC2),
    "cloudfront_gb": Price(0.109, "GB to India (after 1 TB always free)", _CF),
    "s3_gb_month": Price(0.025, "GB-month (S3 Standard)", _S3),
    "cognito_mau": Price(0.015, "MAU above 10,000 (Essentials)", _COGNITO),
    "xray_trace_per_million": Price(5.00, "million traces (after 100,000 free)", _XRAY),
    "ecr_gb_month": Price(0.10, "GB-month", _ECR),
    "efs_gb_month": Price(0.33, "GB-month (Standard)", _EFS),
    "kms_key_month": Price(1.00, "key-month", _KMS),
    "scheduler_per_million": Price(1.00, "million invocations (14 M free)", _EVENTS),
    "sqs_per_million": Price(0.40, "million requests (1 M free)", _SQS),
}  # fmt: skip

FREE_TIER: Final = {
    "data_out_gb": 100.0,  # a month, aggregated over services (always free)
    "cloudfront_gb": 1024.0,  # CloudFront always free tier
    "xray_traces": 100_000.0,
    "cognito_mau": 10_000.0,
    "scheduler_invocations": 14_000_000.0,
    "sqs_requests": 1_000_000.0,
    "free_dashboards": 3.0,
    # Always free (not the 12-month tier), per account a month:
    "lambda_gb_s": 400_000.0,
    "lambda_requests": 1_000_000.0,
    "cloudwatch_alarms": 10.0,  # standard resolution
    "cloudwatch_metrics": 10.0,  # custom metric-months
    "cloudwatch_logs_gb": 5.0,  # ingested, and again archived
}

# Resource types that cost nothing by themselves (configuration, or billed through another
# resource: a task definition through its service, a layer through its function).
FREE_TYPES: Final = frozenset({
    "AWS::CDK::Metadata",
    "AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::InstanceProfile",
    "AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::RouteTable", "AWS::EC2::Route",
    "AWS::EC2::SubnetRouteTableAssociation", "AWS::EC2::InternetGateway",
    "AWS::EC2::VPCGatewayAttachment", "AWS::EC2::SecurityGroup",
    "AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress",
    "AWS::EC2::FlowLog",  # its records are logs ingestion (CloudWatch, below)
    "AWS::ElastiCache::SubnetGroup", "AWS::ElastiCache::ParameterGroup",
    "AWS::RDS::DBSubnetGroup", "AWS::RDS::DBParameterGroup",
    "AWS::SecretsManager::SecretTargetAttachment", "AWS::SecretsManager::RotationSchedule",
    "AWS::Cognito::UserPoolDomain", "AWS::Cognito::UserPoolGroup",
    "AWS::Cognito::UserPoolClient",
    "AWS::Lambda::Permission", "AWS::Lambda::LayerVersion", "AWS::Lambda::Version",
    "AWS::Lambda::Alias", "AWS::Lambda::EventInvokeConfig", "AWS::Lambda::EventSourceMapping",
    "AWS::ApiGatewayV2::Integration", "AWS::ApiGatewayV2::Route", "AWS::ApiGatewayV2::Stage",
    "AWS::ApiGatewayV2::Authorizer", "AWS::ApiGatewayV2::Deployment",
    "AWS::ApiGatewayV2::RouteResponse",
    "AWS::ECS::TaskDefinition", "AWS::ECS::ClusterCapacityProviderAssociations",
    "AWS::S3::BucketPolicy",
    "AWS::CloudFront::OriginAccessControl", "AWS::CloudFront::ResponseHeadersPolicy",
    "AWS::CloudFront::Function",  # 2 M invocations a month always free
    "AWS::Logs::MetricFilter", "AWS::Logs::SubscriptionFilter",
    "AWS::SNS::Topic",  # 1 M publishes and 1,000 e-mails a month free: alarms only
    "AWS::SNS::Subscription", "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy",
    "AWS::Scheduler::ScheduleGroup", "AWS::Events::Rule",
    "AWS::EFS::MountTarget", "AWS::EFS::AccessPoint",
    "AWS::KMS::Alias",
})  # fmt: skip
FREE_PREFIXES: Final = ("Custom::",)  # custom resources: their Lambda is priced


# -- usage ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """What the deployment does in a month. Defaults: NSE hours (the feed runs 08:30-16:05
    IST on trading days; users watch 09:00-15:35), 21 trading days, one dashboard tab per
    user, the feed's 4 Hz cycle (CYCLE_MS 250) and PUSH_MARKET_HZ 4."""

    users: int = 10
    push_hz: float = 4.0  # cycles a second: market data + chain delta in one message
    combined_messages: bool = True  # False: market data and deltas as separate messages
    instruments: int = 160  # option chain rows streamed (strikes x CE/PE) + indices
    changed_fraction: float = 0.5  # instruments that change in one cycle
    bytes_per_changed_instrument: int = 40
    market_message_bytes: int = 600
    user_hours_per_day: float = 6.6  # 09:00-15:35 IST
    feed_hours_per_day: float = 7 + 35 / 60  # 08:30-16:05 IST (infra/stacks/feed.py schedule)
    trading_days: int = 21
    ws_client_messages_per_hour: float = 62.0  # a ping a minute + subscriptions
    http_requests_per_user_hour: float = 840.0  # /health every 5 s, expiries and charts 1/min
    http_response_kb: float = 2.0
    http_lambda_ms: float = 60.0
    ws_lambda_ms: float = 30.0
    ws_invocations_per_user_day: float = 70.0  # connect/disconnect, subscribe, pings
    job_runs_per_day: float = 1.0
    job_seconds: float = 30.0
    feed_log_mb_per_hour: float = 4.0
    log_bytes_per_request: int = 900  # Lambda log lines + the access log line
    secret_calls_per_day: float = 300.0
    nat_gb: float = 1.0  # the Lambdas' own egress (Kite login, Secrets Manager, @connections)
    spa_mb_per_user_day: float = 0.3
    efs_gb: float = 1.0
    image_gb: float = 0.7  # the two images in the CDK assets repository
    container_insights_metrics: int = 30
    feed_metrics: int = 19  # feed_container emit_metrics: 14 figures + Rejected_<reason>
    lambda_metrics: int = 14  # Powertools metrics of the Lambdas (published in user hours)

    @property
    def message_bytes(self) -> float:
        delta = self.instruments * self.changed_fraction * self.bytes_per_changed_instrument
        return delta + self.market_message_bytes

    @property
    def ws_messages_per_connection_second(self) -> float:
        return self.push_hz * (1 if self.combined_messages else 2)

    @property
    def user_seconds(self) -> float:
        return self.users * self.user_hours_per_day * 3600 * self.trading_days

    @property
    def ws_messages(self) -> float:
        """Messages metered a month (sent and received, in 32 KB units)."""
        units = math.ceil(self.message_bytes / (32 * 1024)) if self.combined_messages else 1
        pushed = self.user_seconds * self.ws_messages_per_connection_second * units
        received = (
            self.users
            * self.user_hours_per_day
            * self.trading_days
            * (self.ws_client_messages_per_hour)
        )
        return pushed + received

    @property
    def http_requests(self) -> float:
        return (
            self.users
            * self.user_hours_per_day
            * self.trading_days
            * (self.http_requests_per_user_hour)
        )

    @property
    def feed_hours(self) -> float:
        return self.feed_hours_per_day * self.trading_days

    @property
    def data_out_gb(self) -> float:
        pushed = self.user_seconds * self.push_hz * self.message_bytes
        return (pushed + self.http_requests * self.http_response_kb * 1024) / 1e9


# -- line items -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    service: str
    item: str
    usd: float


class UnknownResourceTypeError(KeyError):
    """A template has a resource type the model neither prices nor lists as free."""


@dataclass
class Context:
    """One template being priced (to follow Refs to sibling resources)."""

    stack: str
    resources: dict[str, Any]
    usage: Usage
    lines: list[Line] = field(default_factory=list)

    def add(self, service: str, item: str, usd: float) -> None:
        self.lines.append(Line(service, item, usd))

    def ref(self, value: Any) -> dict[str, Any]:
        """The properties of the resource a {"Ref": id} names ({} otherwise)."""
        if isinstance(value, dict) and "Ref" in value:
            return dict(self.resources.get(value["Ref"], {}).get("Properties", {}))
        return {}


def p(key: str) -> float:
    try:
        return PRICES[key].usd
    except KeyError as exc:
        raise KeyError(f"no {REGION} price for {key!r}: add it to infra.cost.PRICES") from exc


def _nat_gateway(c: Context, _: str, props: dict[str, Any]) -> None:
    del props
    c.add("VPC egress", "NAT gateway", HOURS_PER_MONTH * p("nat_gateway_hour"))
    c.add("VPC egress", "NAT gateway data", c.usage.nat_gb * p("nat_gateway_gb"))


def _eip(c: Context, _: str, props: dict[str, Any]) -> None:
    del props
    c.add("VPC egress", "Elastic IP (public IPv4)", HOURS_PER_MONTH * p("public_ipv4_hour"))


def _instance(c: Context, _: str, props: dict[str, Any]) -> None:
    kind = str(props.get("InstanceType"))
    nat = props.get("SourceDestCheck") is False
    label = f"NAT instance {kind}" if nat else f"EC2 {kind}"
    c.add("VPC egress" if nat else "EC2", label, HOURS_PER_MONTH * p(f"ec2_{kind}_hour"))
    c.add("VPC egress" if nat else "EC2", f"{label}: public IPv4",
          HOURS_PER_MONTH * p("public_ipv4_hour"))  # fmt: skip
    c.add("VPC egress" if nat else "EC2", f"{label}: 8 GB root volume",
          8 * p("ebs_gp3_gb_month"))  # fmt: skip


def _endpoint(c: Context, _: str, props: dict[str, Any]) -> None:
    if props.get("VpcEndpointType", "Gateway") == "Gateway":
        return  # S3 and DynamoDB gateway endpoints are free
    azs = len(props.get("SubnetIds", [])) or 1
    c.add("VPC egress", "interface endpoint", azs * HOURS_PER_MONTH * p("interface_endpoint_hour"))


def _api(c: Context, _: str, props: dict[str, Any]) -> None:
    u = c.usage
    if props.get("ProtocolType") == "WEBSOCKET":
        c.add("API Gateway WebSocket", "messages",
              u.ws_messages / 1e6 * p("ws_message_per_million"))  # fmt: skip
        minutes = u.user_seconds / 60
        c.add("API Gateway WebSocket", "connection minutes",
              minutes / 1e6 * p("ws_connection_minute_per_million"))  # fmt: skip
    else:
        c.add("API Gateway HTTP", "requests",
              u.http_requests / 1e6 * p("http_request_per_million"))  # fmt: skip


def _lambda(c: Context, _: str, props: dict[str, Any]) -> None:
    u = c.usage
    command = " ".join(props.get("ImageConfig", {}).get("Command", []))
    if command.startswith("lambdas.http_api"):
        name, calls, seconds = "HTTP API", u.http_requests, u.http_lambda_ms / 1000
    elif command.startswith("lambdas.ws"):
        calls = u.users * u.ws_invocations_per_user_day * u.trading_days
        name, seconds = "WebSocket routes", u.ws_lambda_ms / 1000
    elif command.startswith("lambdas."):
        name = command.removeprefix("lambdas.")
        calls, seconds = u.job_runs_per_day * u.trading_days, u.job_seconds
    else:
        return  # CDK's deployment helpers: a few calls per deploy
    gb = float(props.get("MemorySize", 128)) / 1024
    arm = "arm64" in props.get("Architectures", ["x86_64"])
    rate = p("lambda_arm_gb_s" if arm else "lambda_x86_gb_s")
    c.add("Lambda", f"{name} compute", calls * seconds * gb * rate)
    c.add("Lambda", f"{name} requests", calls / 1e6 * p("lambda_request_per_million"))
    if props.get("TracingConfig", {}).get("Mode") == "Active":
        # Lambda samples the first request each second and 5 % of the rest.
        rate = calls / (u.user_hours_per_day * 3600 * u.trading_days)
        sampled = min(rate, 1.0) + 0.05 * max(0.0, rate - 1.0)
        traces = sampled * u.user_hours_per_day * 3600 * u.trading_days
        c.add("X-Ray", f"{name} traces", traces)  # a count: priced once, after the free tier


def _service(c: Context, _: str, props: dict[str, Any]) -> None:
    task = c.ref(props.get("TaskDefinition"))
    u = c.usage
    hours = u.feed_hours * int(props.get("DesiredCount", 1))
    vcpu = int(task.get("Cpu", 256)) / 1024
    gb = int(task.get("Memory", 512)) / 1024
    arm = task.get("RuntimePlatform", {}).get("CpuArchitecture") == "ARM64"
    arch = "arm" if arm else "x86"
    c.add("Fargate", f"{vcpu:g} vCPU ({arch})", hours * vcpu * p(f"fargate_{arch}_vcpu_hour"))
    c.add("Fargate", f"{gb:g} GB", hours * gb * p(f"fargate_{arch}_gb_hour"))
    extra = max(0, int(task.get("EphemeralStorage", {}).get("SizeInGiB", 20)) - 20)
    if extra:
        c.add("Fargate", f"{extra} GB extra ephemeral storage",
              hours * extra * p("fargate_storage_gb_hour"))  # fmt: skip
    network = props.get("NetworkConfiguration", {}).get("AwsvpcConfiguration", {})
    if network.get("AssignPublicIp") == "ENABLED":
        c.add("VPC egress", "feed task public IPv4", hours * p("public_ipv4_hour"))


def _cluster(c: Context, _: str, props: dict[str, Any]) -> None:
    settings = {s.get("Name"): s.get("Value") for s in props.get("ClusterSettings", [])}
    if settings.get("containerInsights") in ("enabled", "enhanced"):
        # Metrics are billed by the hour they are published: only while the feed runs.
        share = c.usage.feed_hours / HOURS_PER_MONTH
        c.add("CloudWatch", "metric-months", c.usage.container_insights_metrics * share)


def _db(c: Context, _: str, props: dict[str, Any]) -> None:
    kind = str(props.get("DBInstanceClass"))
    copies = 2 if props.get("MultiAZ") is True else 1
    storage = float(props.get("AllocatedStorage", 20))
    disk = str(props.get("StorageType", "gp2"))
    c.add("RDS PostgreSQL", f"{kind} x{copies}", copies * HOURS_PER_MONTH * p(f"rds_{kind}_hour"))
    c.add("RDS PostgreSQL", f"{storage:g} GB {disk}",
          copies * storage * p(f"rds_{disk}_gb_month"))  # fmt: skip


def _cache(c: Context, _: str, props: dict[str, Any]) -> None:
    kind = str(props.get("CacheNodeType"))
    engine = str(props.get("Engine", "redis"))
    nodes = int(props.get("NumCacheClusters", 1))
    c.add("ElastiCache", f"{engine} {kind} x{nodes}",
          nodes * HOURS_PER_MONTH * p(f"cache_{engine}_{kind}_hour"))  # fmt: skip


def _secret(c: Context, _: str, props: dict[str, Any]) -> None:
    del props
    c.add("Secrets Manager", "secret", p("secret_month"))


def _log_group(c: Context, _: str, props: dict[str, Any]) -> None:
    del props
    c.add("CloudWatch", "log groups", 0.0)  # ingestion is priced once from usage


def _alarm(c: Context, _: str, props: dict[str, Any]) -> None:
    del props
    c.add("CloudWatch", "alarms", p("alarm_month"))


def _dashboard(c: Context, _: str, props: dict[str, Any]) -> None:
    del props
    c.add("CloudWatch", "dashboards", p("dashboard_month"))


def _bucket(c: Context, _: str, props: dict[str, Any]) -> None:
    del props
    c.add("CloudFront + S3", "S3 storage (the SPA, access logs)", 0.5 * p("s3_gb_month"))


def _distribution(c: Context, _: str, props: dict[str, Any]) -> None:
    del props
    u = c.usage
    gb = u.users * u.spa_mb_per_user_day * u.trading_days / 1024
    c.add("CloudFront + S3", "CloudFront transfer",
          max(0.0, gb - FREE_TIER["cloudfront_gb"]) * p("cloudfront_gb"))  # fmt: skip


def _user_pool(c: Context, _: str, props: dict[str, Any]) -> None:
    del props
    extra = max(0.0, c.usage.users - FREE_TIER["cognito_mau"])
    c.add("Cognito", "monthly active users", extra * p("cognito_mau"))


def _schedule(c: Context, _: str, props: dict[str, Any]) -> None:
    del props
    c.add("EventBridge Scheduler", "invocations (free tier)", 0.0)


def _queue(c: Context, _: str, props: dict[str, Any]) -> None:
    del props
    c.add("SQS", "dead-letter queue (free tier)", 0.0)


def _efs(c: Context, _: str, props: dict[str, Any]) -> None:
    del props
    c.add("EFS", "spool storage", c.usage.efs_gb * p("efs_gb_month"))


def _kms(c: Context, _: str, props: dict[str, Any]) -> None:
    del props
    c.add("KMS", "customer managed key", p("kms_key_month"))


Pricer = Callable[[Context, str, dict[str, Any]], None]
PRICERS: Final[dict[str, Pricer]] = {
    "AWS::EC2::NatGateway": _nat_gateway,
    "AWS::EC2::EIP": _eip,
    "AWS::EC2::Instance": _instance,
    "AWS::EC2::VPCEndpoint": _endpoint,
    "AWS::ApiGatewayV2::Api": _api,
    "AWS::Lambda::Function": _lambda,
    "AWS::ECS::Service": _service,
    "AWS::ECS::Cluster": _cluster,
    "AWS::RDS::DBInstance": _db,
    "AWS::ElastiCache::ReplicationGroup": _cache,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::CloudWatch::CompositeAlarm": _alarm,
    "AWS::CloudWatch::Dashboard": _dashboard,
    "AWS::S3::Bucket": _bucket,
    "AWS::CloudFront::Distribution": _distribution,
    "AWS::Cognito::UserPool": _user_pool,
    "AWS::Scheduler::Schedule": _schedule,
    "AWS::SQS::Queue": _queue,
    "AWS::EFS::FileSystem": _efs,
    "AWS::KMS::Key": _kms,
}


def is_known(resource_type: str) -> bool:
    return (
        resource_type in PRICERS
        or resource_type in FREE_TYPES
        or resource_type.startswith(FREE_PREFIXES)
    )


def unknown_types(templates: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """Resource types the model does not know, by stack."""
    out: dict[str, set[str]] = defaultdict(set)
    for stack, template in templates.items():
        for resource in template.get("Resources", {}).values():
            if not is_known(resource["Type"]):
                out[stack].add(resource["Type"])
    return dict(out)


def price(templates: dict[str, dict[str, Any]], usage: Usage) -> list[Line]:
    """Monthly line items for the templates (stack name -> CloudFormation template)."""
    missing = unknown_types(templates)
    if missing:
        raise UnknownResourceTypeError(
            "resource types the cost model does not know (price them in infra.cost.PRICERS "
            f"or list them in FREE_TYPES): {missing}"
        )
    lines: list[Line] = []
    for stack, template in templates.items():
        resources = template.get("Resources", {})
        c = Context(stack, resources, usage)
        for logical_id, resource in resources.items():
            pricer = PRICERS.get(resource["Type"])
            if pricer is not None:
                pricer(c, logical_id, dict(resource.get("Properties", {})))
        lines.extend(c.lines)
    return _usage_lines(lines, usage)


def _usage_lines(lines: list[Line], usage: Usage) -> list[Line]:
    """Account-wide items: logs ingestion, X-Ray beyond its free tier, data transfer out,
    Secrets Manager calls, ECR storage (the CDK assets repository)."""
    traces = sum(line.usd for line in lines if line.service == "X-Ray")
    out = [line for line in lines if line.service != "X-Ray"]
    paid_traces = max(0.0, traces - FREE_TIER["xray_traces"])
    out.append(Line("X-Ray", "traces", paid_traces / 1e6 * p("xray_trace_per_million")))
    if any(line.item == "log groups" for line in lines):
        out = [line for line in out if line.item != "log groups"]
        gb = (usage.feed_log_mb_per_hour * usage.feed_hours) / 1024 + (
            usage.http_requests * usage.log_bytes_per_request / 1e9
        )
        paid_gb = max(0.0, gb - FREE_TIER["cloudwatch_logs_gb"])
        out.append(Line("CloudWatch", "logs ingestion", paid_gb * p("logs_ingest_gb")))
        out.append(Line("CloudWatch", "logs storage (30 days)",
                        paid_gb * p("logs_storage_gb_month")))  # fmt: skip
    # Custom metrics are billed by the hours they are published in: the feed's while it runs,
    # the Lambdas' while users are on.
    metric_months = (
        sum(line.usd for line in lines if line.item == "metric-months")
        + (
            usage.feed_metrics * usage.feed_hours
            + usage.lambda_metrics * usage.user_hours_per_day * usage.trading_days
        )
        / HOURS_PER_MONTH
    )
    out = [line for line in out if line.item != "metric-months"]
    paid_metrics = max(0.0, metric_months - FREE_TIER["cloudwatch_metrics"])
    out.append(Line("CloudWatch", f"custom metrics ({metric_months:.1f} metric-months)",
                    paid_metrics * p("metric_month")))  # fmt: skip
    alarms = [line for line in out if line.item == "alarms"]
    free_alarms = int(FREE_TIER["cloudwatch_alarms"])
    out = [line for line in out if line.item != "alarms"] + [
        replace(a, usd=0.0) if i < free_alarms else a for i, a in enumerate(alarms)
    ]
    # Lambda's always-free tier, valued at the arm64 rate (every function here is arm64).
    compute = sum(line.usd for line in out if line.service == "Lambda" and "compute" in line.item)
    requests = sum(line.usd for line in out if line.service == "Lambda" and "requests" in line.item)
    free = min(compute, FREE_TIER["lambda_gb_s"] * p("lambda_arm_gb_s")) + min(
        requests, FREE_TIER["lambda_requests"] / 1e6 * p("lambda_request_per_million")
    )
    out.append(Line("Lambda", "always-free tier (400,000 GB-s, 1 M requests)", -free))
    dashboards = [line for line in out if line.item == "dashboards"]
    free = int(FREE_TIER["free_dashboards"])
    out = [line for line in out if line.item != "dashboards"] + [
        replace(d, usd=0.0) if i < free else d for i, d in enumerate(dashboards)
    ]
    billable = max(0.0, usage.data_out_gb - FREE_TIER["data_out_gb"])
    out.append(Line("Data transfer out", f"{usage.data_out_gb:,.0f} GB to browsers",
                    billable * p("data_out_gb")))  # fmt: skip
    calls = usage.secret_calls_per_day * usage.trading_days
    out.append(Line("Secrets Manager", "API calls", calls / 1e4 * p("secret_api_per_10k")))
    out.append(Line("ECR", "image storage", usage.image_gb * p("ecr_gb_month")))
    return out


def by_service(lines: Iterable[Line]) -> dict[str, float]:
    totals: dict[str, float] = defaultdict(float)
    for line in lines:
        totals[line.service] += line.usd
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def total(lines: Iterable[Line]) -> float:
    return sum(line.usd for line in lines)


# -- egress options ---------------------------------------------------------------------------

# What VPC Lambdas would call outside the VPC if they had the internet-facing work: Secrets
# Manager (the Kite token), execute-api (@connections replies) and Kite (api.kite.trade: the
# login's session exchange), which no VPC endpoint reaches. Now the WebSocket routes reply
# through route responses and the Kite login runs outside the VPC, so none of them does. The
# feed task, in a public subnet, calls Kite, Secrets Manager, execute-api, CloudWatch Logs and
# ECR directly.
LAMBDA_ENDPOINTS: Final = ("secretsmanager", "execute-api")
FEED_ENDPOINTS: Final = ("secretsmanager", "execute-api", "logs", "monitoring", "ecr.api",
                         "ecr.dkr", "ssm")  # fmt: skip


def egress_options(usage: Usage, azs: int = 2) -> dict[str, tuple[float, str]]:
    """Monthly cost of each way out of the private subnets, and whether it holds."""
    hour, ipv4 = HOURS_PER_MONTH, p("public_ipv4_hour")
    nat_gw = hour * (p("nat_gateway_hour") + ipv4) + usage.nat_gb * p("nat_gateway_gb")
    instance = hour * (p("ec2_t4g.nano_hour") + ipv4) + 8 * p("ebs_gp3_gb_month")
    endpoint = azs * hour * p("interface_endpoint_hour")
    return {
        "NAT gateway, feed private (before)": (
            nat_gw + usage.data_out_gb * p("nat_gateway_gb"),
            "holds; the pusher's posts to @connections are NAT-processed too",
        ),
        "NAT gateway, feed public": (nat_gw, "holds"),
        "NAT instance t4g.nano, feed public": (instance, "holds"),
        "no NAT: isolated private subnets, feed public, Kite login outside the VPC (chosen)": (
            0.0,
            "holds: the VPC Lambdas reach only Redis and PostgreSQL",
        ),
        f"interface endpoints for the Lambdas ({', '.join(LAMBDA_ENDPOINTS)}), feed public": (
            len(LAMBDA_ENDPOINTS) * endpoint,
            "does not hold: the Kite login's session exchange needs the internet",
        ),
        f"interface endpoints for everything ({len(FEED_ENDPOINTS)}), feed private": (
            len(FEED_ENDPOINTS) * endpoint,
            "does not hold: the feed and the login need Kite",
        ),
    }


# -- templates and output -----------------------------------------------------------------------


def read_cdk_out(directory: Path) -> dict[str, dict[str, Any]]:
    """Stack templates from a `cdk synth` output directory (manifest.json's stacks)."""
    manifest = json.loads((directory / "manifest.json").read_text())
    templates: dict[str, dict[str, Any]] = {}
    for name, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") == "aws:cloudformation:stack":
            template_file = artifact["properties"]["templateFile"]
            templates[name] = json.loads((directory / template_file).read_text())
    if not templates:
        raise SystemExit(f"{directory}: no stack templates (run `cdk synth` first)")
    return templates


def synthesize(context: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The app's templates, synthesized here (needs Node.js, no AWS account or Docker)."""
    from infra.app import build_app  # noqa: PLC0415  (jsii starts Node.js on import)

    with tempfile.TemporaryDirectory() as tmp:
        dist = Path(tmp, "dist")
        dist.mkdir()
        ctx = {"kite_api_key": "cost-model", "web_dist": str(dist), **(context or {})}
        assembly = build_app(ctx, outdir=str(Path(tmp, "cdk.out"))).app.synth()
        return {
            s.stack_name: json.loads(Path(s.template_full_path).read_text())
            for s in assembly.stacks
        }


def report(templates: dict[str, dict[str, Any]], usages: Sequence[Usage]) -> str:
    """A table: one row per service, one column per usage, totals last."""
    columns = [by_service(price(templates, u)) for u in usages]
    services = sorted({s for col in columns for s in col}, key=lambda s: -columns[0].get(s, 0))
    head = f"{'USD a month (' + REGION + ', prices of ' + PRICES_DATE + ')':<52}" + "".join(
        f"{f'{u.users:,} users':>14}" for u in usages
    )
    rows = [head, "-" * len(head)]
    for service in services:
        rows.append(
            f"{service:<52}" + "".join(f"{col.get(service, 0.0):>14.2f}" for col in columns)
        )
    rows.append("-" * len(head))
    rows.append(f"{'Total':<52}" + "".join(f"{sum(col.values()):>14.2f}" for col in columns))
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.cost", description=__doc__)
    parser.add_argument("--cdk-out", type=Path, help="read templates from this `cdk synth` output")
    parser.add_argument("--users", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--push-hz", type=float, default=Usage.push_hz)
    parser.add_argument("--separate-messages", action="store_true",
                        help="market data and deltas as two messages a cycle (before)")  # fmt: skip
    parser.add_argument("--feed-hours", type=float, default=Usage.feed_hours_per_day,
                        help="hours a trading day the feed task runs")  # fmt: skip
    parser.add_argument("--user-hours", type=float, default=Usage.user_hours_per_day)
    parser.add_argument("--trading-days", type=int, default=Usage.trading_days)
    parser.add_argument("--instruments", type=int, default=Usage.instruments)
    parser.add_argument("--items", action="store_true", help="print every line item")
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE",
                        help="CDK context for the synthesis (e.g. egress=gateway)")  # fmt: skip
    args = parser.parse_args(argv)
    context = dict(kv.split("=", 1) for kv in args.context)
    templates = read_cdk_out(args.cdk_out) if args.cdk_out else synthesize(context)
    base = Usage(
        push_hz=args.push_hz, combined_messages=not args.separate_messages,
        feed_hours_per_day=args.feed_hours, user_hours_per_day=args.user_hours,
        trading_days=args.trading_days, instruments=args.instruments,
    )  # fmt: skip
    usages = [replace(base, users=n) for n in args.users]
    print(report(templates, usages))
    print()
    first = usages[0]
    print(f"Usage: {first.push_hz:g} pushes/s per connection "
          f"({'one message' if first.combined_messages else 'two messages'} a cycle, "
          f"{first.message_bytes / 1024:.1f} KB), users {first.user_hours_per_day:g} h/day, "
          f"feed {first.feed_hours_per_day:.2f} h/day, "
          f"{first.trading_days} trading days")  # fmt: skip
    if args.items:
        print()
        for line in price(templates, first):
            print(f"  {line.service:<24}{line.item:<48}{line.usd:>10.2f}")
    print()
    print("Egress options (USD a month, 10 users):")
    for name, (usd, verdict) in egress_options(first).items():
        print(f"  {name:<72}{usd:>8.2f}  {verdict}")
    estimates = sorted(k for k, v in PRICES.items() if not v.confirmed)
    print()
    print(f"Prices: {len(PRICES) - len(estimates)} confirmed on AWS's pages, "
          f"{len(estimates)} estimates (docs/deploy.md lists them).")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
