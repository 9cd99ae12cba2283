"""Network: a VPC over two AZs, private subnets behind NAT, and the app security groups."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from constructs import Construct


class NetworkStack(Stack):
    """VPC (public + private-with-egress subnets in 2 AZs), flow logs, S3 gateway endpoint.

    The feed needs the internet (Kite) and the Lambdas need AWS APIs (Secrets Manager,
    execute-api, CloudWatch), so the private subnets egress through NAT (`nat_gateways`, one
    by default to keep the cost down). The security groups of the app's compute live here so
    that the data stack can admit exactly them.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, nat_gateways: int = 1, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
                ec2.SubnetConfiguration(
                    name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
                ),
            ],
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)
            },
            flow_logs={"FlowLogs": ec2.FlowLogOptions(traffic_type=ec2.FlowLogTrafficType.REJECT)},
        )
        self.feed_sg = ec2.SecurityGroup(
            self, "FeedSg", vpc=self.vpc, description="Strikeboard feed + pusher (ECS task)"
        )
        self.lambda_sg = ec2.SecurityGroup(
            self, "LambdaSg", vpc=self.vpc, description="Strikeboard Lambdas (API, WebSocket, jobs)"
        )
