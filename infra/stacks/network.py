"""Network: a VPC over two AZs, public and private subnets, egress, and the app security groups."""

from __future__ import annotations

from typing import Any, Literal

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra.nag import acknowledge

Egress = Literal["none", "instance", "gateway"]
EGRESS_CHOICES: tuple[Egress, ...] = ("none", "instance", "gateway")
# A Graviton NAT instance, for teams that add VPC Lambdas needing the internet: a nano forwards
# far more than a few calls a day.
NAT_INSTANCE_TYPE = "t4g.nano"
PRIVATE_SUBNETS = "private"
"""The private subnets' group name: select them by name, whatever their egress."""
# CDK's default VPC range, spelled out so that the NAT instance's ingress rule is a literal
# (cdk-nag checks literal CIDRs only).
VPC_CIDR = "10.0.0.0/16"


class NetworkStack(Stack):
    """VPC (public + private subnets in 2 AZs), flow logs, S3 gateway endpoint.

    Nothing in the private subnets needs the internet, so by default (`egress="none"`) they
    are isolated and there is no NAT: the feed task runs in the public subnets with a public
    IP (Kite, AWS APIs and the pusher's @connections posts go straight out; its security
    group admits nothing), the WebSocket Lambda replies through route responses, and the Kite
    login runs in a Lambda outside the VPC. The VPC Lambdas talk to Redis and PostgreSQL only.
    `egress="instance"` adds a t4g.nano NAT instance (about $7.70 a month with its public
    IPv4), `egress="gateway"` a managed NAT gateway (about $45 in ap-south-1), for teams that
    add VPC code that needs the internet; `nat_gateways` is how many (one by default).
    docs/deploy.md "Costs to expect" compares them.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        nat_gateways: int = 1,
        egress: Egress = "none",
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if egress not in EGRESS_CHOICES:
            raise ValueError(f"egress {egress!r}: use one of {', '.join(EGRESS_CHOICES)}")
        self.nat_instance: ec2.NatInstanceProviderV2 | None = None
        provider: ec2.NatProvider | None = None
        if egress == "none":
            nat_gateways = 0
        elif egress == "instance":
            self.nat_instance = ec2.NatProvider.instance_v2(
                instance_type=ec2.InstanceType(NAT_INSTANCE_TYPE),
                default_allowed_traffic=ec2.NatTrafficDirection.OUTBOUND_ONLY,
            )
            provider = self.nat_instance
        else:
            provider = ec2.NatProvider.gateway()
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(VPC_CIDR),
            max_azs=2,
            nat_gateways=nat_gateways,
            nat_gateway_provider=provider,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
                ec2.SubnetConfiguration(
                    name=PRIVATE_SUBNETS,
                    subnet_type=ec2.SubnetType.PRIVATE_ISOLATED
                    if egress == "none"
                    else ec2.SubnetType.PRIVATE_WITH_EGRESS,
                ),
            ],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)
            },
            flow_logs={"FlowLogs": ec2.FlowLogOptions(traffic_type=ec2.FlowLogTrafficType.REJECT)},
        )
        if self.nat_instance is not None:
            # The instance forwards for the private subnets only (nothing from the internet).
            self.nat_instance.connections.allow_from(
                ec2.Peer.ipv4(VPC_CIDR), ec2.Port.all_traffic(),
                "NAT for the private subnets",
            )  # fmt: skip
            acknowledge(
                self.vpc,
                {
                    "AwsSolutions-EC26": (
                        "The NAT instance's root volume holds no data (Amazon Linux and "
                        "iptables rules, rebuilt from the AMI on replacement)."
                    ),
                    "AwsSolutions-EC28": (
                        "Detailed monitoring costs more than the t4g.nano NAT instance is "
                        "worth watching at one-minute resolution; basic metrics stay on."
                    ),
                    "AwsSolutions-EC29": (
                        "The NAT instance is disposable: a redeploy replaces it and nothing "
                        "is lost, so no termination protection or Auto Scaling group."
                    ),
                },
            )
        self.feed_sg = ec2.SecurityGroup(
            self, "FeedSg", vpc=self.vpc, description="Strikeboard feed + pusher (ECS task)"
        )
        self.lambda_sg = ec2.SecurityGroup(
            self, "LambdaSg", vpc=self.vpc, description="Strikeboard Lambdas (API, WebSocket, jobs)"
        )
