"""Web: the SPA in a private S3 bucket behind CloudFront (OAC), with /api/* and /ws routed to
the HTTP and WebSocket APIs so that the SPA talks to its own origin, as it does locally."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.nag import acknowledge
from infra.stacks.api import SignIn, spa_client_settings
from strikeboard import headers

# Client-side routes (/chain, /auth/callback, ...) are the SPA: a path whose last segment has
# no dot gets index.html. Only on the S3 behaviour, so /api/* and /ws keep their own statuses.
_SPA_ROUTES = """function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri.substring(uri.lastIndexOf('/') + 1).indexOf('.') === -1) {
    request.uri = '/index.html';
  }
  return request;
}"""

# The SPA opens `/ws?ticket=`; the WebSocket API answers on its stage path.
_WS_REWRITE = """function handler(event) {
  var request = event.request;
  if (request.uri === '/ws' || request.uri === '/ws/') { request.uri = '/%s'; }
  return request;
}"""


class WebStack(Stack):
    """Bucket (private, TLS-only, encrypted) + CloudFront distribution.

    Behaviours: default -> S3 (the SPA; a CloudFront Function serves index.html for client
    routes), `/api/*` -> HTTP API, `/ws` -> WebSocket API (a CloudFront Function rewrites the
    path to the stage). `web_dist` is deployed with BucketDeployment when it has an index.html
    (`make web` builds it). Once the distribution exists, `SpaSignInUrls` points the Cognito
    app client's sign-in and sign-out URLs at it (the API stack, deployed first, cannot know
    the domain: see `infra.stacks.api.PLACEHOLDER_ORIGIN`). Every behaviour answers with the
    security headers of `strikeboard.headers` (a response-headers policy; `cognito_domain`,
    the hosted UI the SPA fetches its tokens from, is in the CSP's connect-src).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        http_api_domain: str,
        ws_api_domain: str,
        ws_stage: str,
        web_dist: Path | None,
        sign_in: SignIn | None = None,
        cognito_domain: str | None = None,
        domain_name: str | None = None,
        certificate_arn: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.logs_bucket = s3.Bucket(
            self,
            "Logs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,  # CloudFront logs: ACLs
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
            removal_policy=RemovalPolicy.DESTROY,
            auto_delete_objects=True,
        )
        self.bucket = s3.Bucket(
            self,
            "Site",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            server_access_logs_bucket=self.logs_bucket,
            server_access_logs_prefix="s3/",
            removal_policy=RemovalPolicy.DESTROY,
            auto_delete_objects=True,
        )

        self.headers_policy = self._security_headers(cognito_domain)
        api_behavior = cloudfront.BehaviorOptions(
            origin=origins.HttpOrigin(http_api_domain),
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            response_headers_policy=self.headers_policy,
        )
        ws_rewrite = cloudfront.Function(
            self,
            "WsPath",
            code=cloudfront.FunctionCode.from_inline(_WS_REWRITE % ws_stage),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
        )
        ws_behavior = cloudfront.BehaviorOptions(
            origin=origins.HttpOrigin(ws_api_domain),
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            response_headers_policy=self.headers_policy,
            function_associations=[
                cloudfront.FunctionAssociation(
                    function=ws_rewrite, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                )
            ],
        )
        spa_routes = cloudfront.Function(
            self,
            "SpaRoutes",
            code=cloudfront.FunctionCode.from_inline(_SPA_ROUTES),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
        )
        custom_domain = bool(domain_name and certificate_arn)
        self.distribution = cloudfront.Distribution(
            self,
            "Cdn",
            comment="Strikeboard",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self.headers_policy,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=spa_routes,
                        event_type=cloudfront.FunctionEventType.VIEWER_REQUEST,
                    )
                ],
            ),
            additional_behaviors={"/api/*": api_behavior, "/ws": ws_behavior},
            # No error responses: a distribution-wide 403/404 -> index.html would turn the
            # API's own 401/403/404 into the SPA's page.
            enable_logging=True,
            log_bucket=self.logs_bucket,
            log_file_prefix="cloudfront/",
            minimum_protocol_version=(
                cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if custom_domain else None
            ),
            domain_names=[domain_name] if custom_domain and domain_name else None,
            certificate=(
                acm.Certificate.from_certificate_arn(self, "Certificate", certificate_arn)
                if custom_domain and certificate_arn
                else None
            ),
            price_class=cloudfront.PriceClass.PRICE_CLASS_200,  # includes India edges
        )
        self.url = f"https://{domain_name if custom_domain else self.distribution.domain_name}"

        if web_dist is not None and (web_dist / "index.html").is_file():
            deployment = s3deploy.BucketDeployment(
                self,
                "Spa",
                sources=[s3deploy.Source.asset(str(web_dist))],
                destination_bucket=self.bucket,
                distribution=self.distribution,
                distribution_paths=["/*"],
            )
            self._acknowledge_deployment(deployment)
        if sign_in is not None:
            self._point_sign_in_here(sign_in)
        CfnOutput(self, "Url", value=self.url)
        CfnOutput(self, "KiteRedirectUrl", value=f"{self.url}/api/auth/kite/callback")

        acknowledge(
            self.logs_bucket,
            {
                "AwsSolutions-S1": ("This is the access-log bucket."),
            },
        )
        acknowledge(
            self.distribution,
            {
                "AwsSolutions-CFR1": ("No geo restriction: users choose where."),
                "AwsSolutions-CFR2": ("WAF is optional (cost); the API requires Cognito tokens."),
                "AwsSolutions-CFR4": (
                    "Without a custom domain CloudFront's default certificate is used, "
                    "which allows older TLS; context domain_name + certificate_arn sets "
                    "TLSv1.2_2021."
                ),
            },
        )

    def _security_headers(self, cognito_domain: str | None) -> cloudfront.ResponseHeadersPolicy:
        """The local gateway's headers (strikeboard.headers; tests/infra checks they agree), on
        every behaviour, overriding the origin's. HSTS too: CloudFront answers over https only."""
        policy = headers.content_security_policy([cognito_domain] if cognito_domain else [])
        return cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment="Strikeboard: CSP, no framing, nosniff, no referrer, HSTS",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=policy, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.seconds(headers.HSTS_MAX_AGE_S),
                    include_subdomains=True,
                    override=True,
                ),
            ),
            custom_headers_behavior=cloudfront.ResponseCustomHeadersBehavior(
                custom_headers=[
                    cloudfront.ResponseCustomHeader(header=name, value=value, override=True)
                    for name, value in headers.CUSTOM.items()
                ]
            ),
        )

    def _point_sign_in_here(self, sign_in: SignIn) -> None:
        """UpdateUserPoolClient with the app client's whole settings (a call resets whatever
        it omits) and this distribution's URLs. The settings are in the call's parameters, so
        a change to them re-runs it in the same `cdk deploy --all`."""
        call = cr.AwsSdkCall(
            service="CognitoIdentityServiceProvider",
            action="updateUserPoolClient",
            parameters={
                "UserPoolId": sign_in.user_pool_id,
                "ClientId": sign_in.client_id,
                **spa_client_settings(self.url),
            },
            physical_resource_id=cr.PhysicalResourceId.of(sign_in.client_id),
        )
        self.sign_in_urls = cr.AwsCustomResource(
            self,
            "SpaSignInUrls",
            on_create=call,
            on_update=call,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=["cognito-idp:UpdateUserPoolClient"],
                        resources=[sign_in.user_pool_arn],
                    )
                ]
            ),
            install_latest_aws_sdk=False,
        )
        acknowledge(
            self,
            {
                "AwsSolutions-L1": (
                    "CDK's singleton handlers (BucketDeployment, AwsCustomResource) pin their "
                    "own Lambda runtimes."
                ),
            },
        )

    def _acknowledge_deployment(self, deployment: s3deploy.BucketDeployment) -> None:
        # BucketDeployment's singleton handler Lambda lives at the stack's root.
        site = self.get_logical_id(self.bucket.node.default_child)  # type: ignore[arg-type]
        reason = (
            "CDK's BucketDeployment copies the SPA from the CDK assets bucket into the site "
            "bucket and invalidates CloudFront: its generated policy uses object wildcards."
        )
        findings = [
            "Action::s3:Abort*", "Action::s3:DeleteObject*", "Action::s3:GetBucket*",
            "Action::s3:GetObject*", "Action::s3:List*", "Resource::*",
            f"Resource::<{site}.Arn>/*",
            "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-"
            "<AWS::Region>/*",
        ]  # fmt: skip
        rules = {f"AwsSolutions-IAM5[{finding}]": reason for finding in findings}
        rules["AwsSolutions-L1"] = "BucketDeployment's handler runtime is pinned by CDK."
        acknowledge(self, rules)
        del deployment
