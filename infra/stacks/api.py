"""API: Cognito, the HTTP API (JWT authorizer) and the WebSocket API, each on a VPC Lambda."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aws_cdk import Aws, CfnOutput, Duration, Fn, RemovalPolicy, SecretValue, Stack
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as sm
from constructs import Construct

from infra.assets import LAMBDA_ARCHITECTURE, lambda_code, lambda_tracing
from infra.nag import acknowledge
from infra.stacks.network import PRIVATE_SUBNETS
from strikeboard.market.underlyings import parse_underlyings

WS_STAGE = "prod"
# Stage throttling (requests or client messages per second, and bursts), far above what a
# team's dashboards send: a cap on a runaway client's bill, not a quota.
HTTP_THROTTLE = (50, 100)
WS_THROTTLE = (50, 100)


def manage_connections_finding(api_id: str, stage: str) -> str:
    """cdk-nag's finding for execute-api:ManageConnections on ``{api_id}/{stage}/*/@connections/*``
    (``api_id`` as nag renders it: ``<LogicalId>`` or an import name)."""
    return (
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:"
        f"<AWS::AccountId>:{api_id}/{stage}/*/@connections/*]"
    )


MANAGE_CONNECTIONS_REASON = (
    "execute-api:ManageConnections on the stage's @connections/*: connection ids are only "
    "known at run time."
)
# Routes that answer without a token (docs/api.md, "Auth"); everything else under /api needs
# a Cognito JWT. The Kite callback is a browser navigation from Kite (no Authorization header):
# its `state`, bound to the browser by a cookie, is what guards it.
PUBLIC_ROUTES = ["/api/health", "/api/docs", "/api/openapi.json", "/api/auth/config"]
# The daily Kite login's two routes go to a Lambda outside the VPC (it calls api.kite.trade
# and Secrets Manager, and needs neither Redis nor PostgreSQL): no NAT for the VPC Lambdas.
KITE_LOGIN_PATH = "/api/auth/kite/login"
KITE_CALLBACK_PATH = "/api/auth/kite/callback"
ADMIN_GROUP = "admin"
SIGN_IN_PATH = "/auth/callback"
# Until the Web stack knows CloudFront's domain (it deploys after this stack), the app client
# points at a placeholder; the Web stack's SpaSignInUrls sets the real URLs (docs/deploy.md).
PLACEHOLDER_ORIGIN = "https://localhost"
_DOMAIN_PREFIX = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def spa_client_settings(origin: str) -> dict[str, Any]:
    """The SPA's app client (CloudFormation and UpdateUserPoolClient share these names):
    authorization code flow for a public client (no secret; the SPA uses PKCE), tokens of an
    hour refreshed for 30 days, sign-in and sign-out back to ``origin``."""
    return {
        "ClientName": "strikeboard-spa",
        "AllowedOAuthFlowsUserPoolClient": True,
        "AllowedOAuthFlows": ["code"],
        "AllowedOAuthScopes": ["openid", "email", "profile"],
        "SupportedIdentityProviders": ["COGNITO"],
        "CallbackURLs": [f"{origin}{SIGN_IN_PATH}"],
        "LogoutURLs": [f"{origin}/"],
        "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        "AccessTokenValidity": 1,
        "IdTokenValidity": 1,
        "RefreshTokenValidity": 30,
        "TokenValidityUnits": {"AccessToken": "hours", "IdToken": "hours", "RefreshToken": "days"},
        "PreventUserExistenceErrors": "ENABLED",
        "EnableTokenRevocation": True,
    }


def cognito_domain_prefix(value: str) -> str:
    """A hosted UI domain prefix from context: lowercase letters, digits and inner hyphens,
    at most 63, without the words Cognito reserves."""
    if not _DOMAIN_PREFIX.fullmatch(value) or any(
        word in value for word in ("aws", "amazon", "cognito")
    ):
        raise ValueError(
            f"cognito_domain_prefix {value!r}: use lowercase letters, digits and hyphens "
            "(at most 63, not starting or ending with a hyphen, without aws/amazon/cognito)"
        )
    return value


@dataclass(frozen=True)
class SignIn:
    """What the Web stack needs to point the app client at CloudFront's domain."""

    user_pool_id: str
    user_pool_arn: str
    client_id: str


_ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "error": "$context.error.message",
        "integrationError": "$context.integrationErrorMessage",
    }
)


def app_environment(
    *,
    redis_url: str,
    database_url: str,
    kite_secret_name: str,
    kite_api_key: str,
    underlyings: str = "NIFTY",
    alerts_topic_arn: str = "",
) -> dict[str, str]:
    """Settings (strikeboard/config.py names) shared by the feed, the pusher and the Lambdas:
    the feed, the API and the jobs must follow the same UNDERLYINGS; the feed publishes
    e-mail alerts to ALERTS_TOPIC_ARN and the API offers e-mail when it is set."""
    return {
        "UNDERLYINGS": ",".join(u.name for u in parse_underlyings(underlyings)),
        "ALERTS_TOPIC_ARN": alerts_topic_arn,
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "KITE_SECRET_NAME": kite_secret_name,
        "KITE_API_KEY": kite_api_key,
        "LOG_LEVEL": "INFO",
        # The Swagger page loads its scripts from a CDN: not on the SPA's origin in the cloud.
        "API_DOCS": "false",
    }


def image_function(
    scope: Construct,
    construct_id: str,
    *,
    handler: str,
    environment: dict[str, str],
    memory_mb: int = 1024,
    timeout: Duration | None = None,
    vpc: ec2.IVpc | None = None,
    security_group: ec2.ISecurityGroup | None = None,
) -> lambda_.DockerImageFunction:
    """One Lambda of the shared image with its own log group; in the private subnets when
    given a VPC."""
    log_group = logs.LogGroup(
        scope,
        f"{construct_id}Logs",
        retention=logs.RetentionDays.ONE_MONTH,
        removal_policy=RemovalPolicy.DESTROY,
    )
    return lambda_.DockerImageFunction(
        scope,
        construct_id,
        code=lambda_code(handler),
        architecture=LAMBDA_ARCHITECTURE,
        memory_size=memory_mb,
        timeout=timeout or Duration.seconds(29),
        vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_group_name=PRIVATE_SUBNETS) if vpc else None,
        security_groups=[security_group] if security_group else None,
        environment=environment,
        log_group=log_group,
        tracing=lambda_tracing(scope),
    )


def vpc_function(
    scope: Construct,
    construct_id: str,
    *,
    handler: str,
    vpc: ec2.IVpc,
    security_group: ec2.ISecurityGroup,
    environment: dict[str, str],
    memory_mb: int = 1024,
    timeout: Duration | None = None,
) -> lambda_.DockerImageFunction:
    """One Lambda of the shared image, in the private subnets (Redis and PostgreSQL only)."""
    return image_function(
        scope, construct_id, handler=handler, environment=environment, memory_mb=memory_mb,
        timeout=timeout, vpc=vpc, security_group=security_group,
    )  # fmt: skip


class ApiStack(Stack):
    """Cognito user pool (hosted UI domain, `admin` group, the SPA's app client), HTTP API ->
    `lambdas.http_api.handler` behind a JWT authorizer, WebSocket API ($connect,
    $disconnect, $default) -> `lambdas.ws.handler`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        lambda_sg: ec2.ISecurityGroup,
        environment: dict[str, str],
        db_secret: sm.ISecret,
        kite_secret: sm.ISecret,
        kite_api_secret_name: str | None,
        domain_prefix: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)

        self.user_pool = cognito.UserPool(
            self,
            "Users",
            self_sign_up_enabled=False,  # one Kite account per deployment: admins add users
            sign_in_aliases=cognito.SignInAliases(username=True, email=True),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
            ),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # The hosted UI: https://{prefix}.auth.{region}.amazoncognito.com. Prefixes are global
        # per region, so the default carries the account id (and the stack name, for several
        # deployments in one account).
        prefix = (
            cognito_domain_prefix(domain_prefix)
            if domain_prefix
            else Fn.join("-", [construct_id.lower(), Aws.ACCOUNT_ID])
        )
        self.domain = self.user_pool.add_domain(
            "Domain", cognito_domain=cognito.CognitoDomainOptions(domain_prefix=prefix)
        )
        cognito.CfnUserPoolGroup(
            self, "AdminGroup", user_pool_id=self.user_pool.user_pool_id, group_name=ADMIN_GROUP,
            description="May start the daily Kite login (POST /api/auth/kite/login).",
        )  # fmt: skip
        # L1 so that the Web stack's UpdateUserPoolClient call sends the very same settings.
        self.user_pool_client = cognito.CfnUserPoolClient(
            self, "Spa", user_pool_id=self.user_pool.user_pool_id, generate_secret=False
        )
        for name, value in spa_client_settings(PLACEHOLDER_ORIGIN).items():
            self.user_pool_client.add_property_override(name, value)
        client_id = self.user_pool_client.ref
        self.sign_in = SignIn(self.user_pool.user_pool_id, self.user_pool.user_pool_arn, client_id)
        issuer = f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool.user_pool_id}"

        env = {
            **environment,
            "COGNITO_ISSUER": issuer,
            "COGNITO_CLIENT_ID": client_id,
            "COGNITO_DOMAIN": self.domain.base_url(),
            "ADMIN_GROUP": ADMIN_GROUP,
            # libpq takes the password from PGPASSWORD (DATABASE_URL carries none); resolved
            # by CloudFormation at deploy time.
            "PGPASSWORD": db_secret.secret_value_from_json("password").unsafe_unwrap(),
        }

        # WebSocket API: $default answers through its route response (no Management API
        # call, so the function needs no way out of the VPC); the pusher posts the live data.
        self.ws_function = vpc_function(
            self,
            "WsFunction",
            handler="lambdas.ws.handler",
            vpc=vpc,
            security_group=lambda_sg,
            environment={**env, "POWERTOOLS_SERVICE_NAME": "strikeboard-ws"},
            memory_mb=512,
            timeout=Duration.seconds(10),
        )
        ws_integration = integrations.WebSocketLambdaIntegration("WsRoutes", self.ws_function)
        self.ws_api = apigw.WebSocketApi(
            self,
            "WebSocketApi",
            description="Strikeboard live push (docs/live.md)",
            connect_route_options=apigw.WebSocketRouteOptions(integration=ws_integration),
            disconnect_route_options=apigw.WebSocketRouteOptions(integration=ws_integration),
            default_route_options=apigw.WebSocketRouteOptions(
                integration=ws_integration, return_response=True
            ),
        )
        self.ws_stage = apigw.WebSocketStage(
            self, "WebSocketStage", web_socket_api=self.ws_api, stage_name=WS_STAGE,
            auto_deploy=True,
            throttle=apigw.ThrottleSettings(rate_limit=WS_THROTTLE[0], burst_limit=WS_THROTTLE[1]),
        )  # fmt: skip
        # https://{api-id}.execute-api.{region}.amazonaws.com/prod: PUSH_ENDPOINT_URL.
        self.push_endpoint_url = self.ws_stage.callback_url

        self.http_function = vpc_function(
            self, "HttpFunction", handler="lambdas.http_api.handler", vpc=vpc,
            security_group=lambda_sg,
            environment={**env, "POWERTOOLS_SERVICE_NAME": "strikeboard-api"},
        )  # fmt: skip
        self.kite_login_function = self._kite_login_function(
            environment, issuer, client_id, kite_secret, kite_api_secret_name
        )

        http_integration = integrations.HttpLambdaIntegration("Api", self.http_function)
        # Audience: API Gateway matches it against `aud` (ID tokens) or, when a token has none,
        # `client_id` (access tokens), so the SPA may send either.
        self.authorizer = authorizers.HttpJwtAuthorizer(
            "Cognito",
            issuer,
            jwt_audience=[client_id],
            identity_source=["$request.header.Authorization"],
        )
        self.http_api = apigw.HttpApi(self, "HttpApi", description="Strikeboard REST (docs/api.md)")
        self.http_api.add_routes(
            path="/api/{proxy+}",
            methods=[apigw.HttpMethod.ANY],
            integration=http_integration,
            authorizer=self.authorizer,
        )
        for path in PUBLIC_ROUTES:
            self.http_api.add_routes(
                path=path, methods=[apigw.HttpMethod.GET], integration=http_integration
            )
        kite_integration = integrations.HttpLambdaIntegration("KiteLogin", self.kite_login_function)
        self.http_api.add_routes(
            path=KITE_LOGIN_PATH, methods=[apigw.HttpMethod.POST],
            integration=kite_integration, authorizer=self.authorizer,
        )  # fmt: skip
        self.http_api.add_routes(
            path=KITE_CALLBACK_PATH, methods=[apigw.HttpMethod.GET], integration=kite_integration
        )

        self._access_logs(self.http_api.default_stage, "HttpApiAccessLogs")
        http_stage = self.http_api.default_stage.node.default_child  # type: ignore[union-attr]
        assert isinstance(http_stage, apigw.CfnStage)
        http_stage.default_route_settings = apigw.CfnStage.RouteSettingsProperty(
            throttling_rate_limit=HTTP_THROTTLE[0], throttling_burst_limit=HTTP_THROTTLE[1]
        )
        self._access_logs(self.ws_stage, "WebSocketAccessLogs")

        self.http_api_domain = f"{self.http_api.api_id}.execute-api.{self.region}.amazonaws.com"
        self.ws_api_domain = f"{self.ws_api.api_id}.execute-api.{self.region}.amazonaws.com"
        CfnOutput(self, "HttpApiUrl", value=self.http_api.api_endpoint)
        CfnOutput(self, "WebSocketUrl", value=self.ws_stage.url)
        # A named export: the feed stack's ManageConnections policy imports it by this name.
        self.ws_api_id_export = f"{self.stack_name}-WebSocketApiId"
        CfnOutput(
            self, "WebSocketApiId", value=self.ws_api.api_id, export_name=self.ws_api_id_export
        )
        CfnOutput(self, "UserPoolId", value=self.user_pool.user_pool_id)
        CfnOutput(self, "UserPoolClientId", value=client_id)
        CfnOutput(self, "SignInUrl", value=self.domain.base_url())

        self._suppress()

    def _kite_login_function(
        self,
        environment: dict[str, str],
        issuer: str,
        client_id: str,
        kite_secret: sm.ISecret,
        kite_api_secret_name: str | None,
    ) -> lambda_.DockerImageFunction:
        """`lambdas.kite_login.handler` outside the VPC: Kite's session exchange and the
        token's write to Secrets Manager go straight out; no Redis or PostgreSQL settings."""
        env = {
            "KITE_API_KEY": environment["KITE_API_KEY"],
            "KITE_SECRET_NAME": environment["KITE_SECRET_NAME"],
            "LOG_LEVEL": environment["LOG_LEVEL"],
            "COGNITO_ISSUER": issuer,
            "COGNITO_CLIENT_ID": client_id,
            "ADMIN_GROUP": ADMIN_GROUP,
            "POWERTOOLS_SERVICE_NAME": "strikeboard-kite-login",
        }
        if kite_api_secret_name:
            # A plain-string secret the team creates before deploying (docs/deploy.md),
            # resolved by CloudFormation into the function's configuration; it also keys the
            # login's signed state.
            env["KITE_API_SECRET"] = SecretValue.secrets_manager(
                kite_api_secret_name
            ).unsafe_unwrap()
        fn = image_function(
            self, "KiteLoginFunction", handler="lambdas.kite_login.handler",
            environment=env, memory_mb=512,
        )  # fmt: skip
        kite_secret.grant_write(fn)  # the daily login stores the token; it never reads it
        return fn

    def _access_logs(self, stage: apigw.IStage | None, construct_id: str) -> None:
        assert stage is not None  # HttpApi creates its $default stage
        group = logs.LogGroup(
            self, construct_id, retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=RemovalPolicy.DESTROY,
        )  # fmt: skip
        cfn_stage = stage.node.default_child
        assert isinstance(cfn_stage, apigw.CfnStage)
        cfn_stage.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
            destination_arn=group.log_group_arn, format=_ACCESS_LOG_FORMAT
        )

    def _suppress(self) -> None:
        acknowledge(
            self.http_api,
            {
                "AwsSolutions-APIG4": (
                    "Public by design: /api/health, docs, OpenAPI, the sign-in settings and "
                    "the Kite callback (checked by its state cookie) (docs/api.md); every "
                    "other /api route has the JWT authorizer."
                ),
            },
        )
        acknowledge(
            self.ws_api,
            {
                "AwsSolutions-APIG4": (
                    "WebSocket $connect redeems a one-time ?ticket= (from the JWT-guarded "
                    "POST /api/ws/ticket) in the handler (401 refuses the handshake); "
                    "$default/$disconnect need a connection."
                ),
            },
        )
        acknowledge(
            self.user_pool,
            {
                "AwsSolutions-COG2": (
                    "MFA is left to the deploying team (optional MFA can be switched on in "
                    "the user pool without a code change)."
                ),
                "AwsSolutions-COG8": (
                    "The Plus feature plan (threat protection) costs extra; "
                    "self sign-up is off and admins create the users."
                ),
                "AwsSolutions-COG3": (
                    "Advanced security (Plus plan) costs extra; self sign-up is off."
                ),
            },
        )
