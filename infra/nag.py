"""cdk-nag (v3): AwsSolutions checks run as a CDK validation plugin; findings are acknowledged
with CDK's `Validations.of(construct).acknowledge`, each with its reason."""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

PACK = "AwsSolutions"

LAMBDA_MANAGED = {
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
    "AWSLambdaBasicExecutionRole]": "The AWS managed policy for CloudWatch Logs is what CDK "
    "attaches to every Lambda role; it only allows writing logs.",
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
    "AWSLambdaVPCAccessExecutionRole]": "The AWS managed policy a VPC Lambda needs for its ENIs.",
    "AwsSolutions-IAM5[Resource::*]": "X-Ray trace upload (xray:PutTraceSegments) and ECR "
    "GetAuthorizationToken have no resource-level permissions.",
}


def acknowledge(construct: IConstruct, reasons: dict[str, str]) -> None:
    """Acknowledge rule ids (``AwsSolutions-X`` or ``AwsSolutions-IAM5[finding]``) on a
    construct and its children."""
    Validations.of(construct).acknowledge(
        *(
            Acknowledgment(id=rule if "::" in rule else f"{PACK}::{rule}", reason=reason)
            for rule, reason in reasons.items()
        )
    )


def add_checks(app: App) -> None:
    """Synthesis fails with a report if any AwsSolutions finding is not acknowledged."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
