"""The synthesized templates: the key resources of every stack and their properties."""

from __future__ import annotations

import pytest
from conftest import NODE, SKIP_REASON

if NODE is None:
    pytest.skip(SKIP_REASON, allow_module_level=True)

import json
import subprocess
from typing import Any

from aws_cdk.assertions import Match, Template
from conftest import Synth

from infra.images import DOCKER_PLATFORM, FEED_MAINS, IMAGES, LAMBDA_HANDLERS

STACKS = ["Network", "Data", "Api", "Feed", "Jobs", "Ops", "Web"]


def template(synth: Synth, name: str) -> Template:
    return Template.from_json(synth.templates[f"Strikeboard{name}"])


def resources(synth: Synth, name: str, kind: str) -> dict[str, dict[str, Any]]:
    found = synth.templates[f"Strikeboard{name}"]["Resources"].items()
    return {key: res for key, res in found if res["Type"] == kind}


def test_the_seven_stacks(synth: Synth) -> None:
    assert sorted(synth.templates) == sorted(f"Strikeboard{n}" for n in STACKS)


def test_network_two_azs_isolated_private_subnets_and_no_nat(synth: Synth) -> None:
    t = template(synth, "Network")
    t.resource_count_is("AWS::EC2::VPC", 1)
    t.resource_count_is("AWS::EC2::Subnet", 4)  # public + private in each of 2 AZs
    # Nothing in the private subnets needs the internet (egress=instance|gateway adds a NAT).
    t.resource_count_is("AWS::EC2::NatGateway", 0)
    t.resource_count_is("AWS::EC2::Instance", 0)
    routes = resources(synth, "Network", "AWS::EC2::Route").values()
    assert all("GatewayId" in r["Properties"] for r in routes)  # only the public subnets' IGW
    assert len(routes) == 2
    t.resource_count_is("AWS::EC2::FlowLog", 1)
    t.has_resource_properties(
        "AWS::EC2::VPCEndpoint", {"VpcEndpointType": "Gateway"}
    )  # S3 without NAT charges


def test_redis_cluster_mode_disabled_and_encrypted(synth: Synth) -> None:
    t = template(synth, "Data")
    t.has_resource_properties(
        "AWS::ElastiCache::ReplicationGroup",
        {
            "Engine": "valkey",  # the Redis protocol, 20 % cheaper a node-hour
            "NumCacheClusters": 1,
            "TransitEncryptionEnabled": True,
            "TransitEncryptionMode": "required",
            "AtRestEncryptionEnabled": True,
        },
    )
    group = next(iter(resources(synth, "Data", "AWS::ElastiCache::ReplicationGroup").values()))
    assert "NumNodeGroups" not in group["Properties"]  # no cluster mode: one shard


def test_postgres_15_encrypted_with_a_generated_secret(synth: Synth) -> None:
    t = template(synth, "Data")
    t.has_resource_properties(
        "AWS::RDS::DBInstance",
        {
            "Engine": "postgres",
            "EngineVersion": Match.string_like_regexp(r"^15\."),
            "StorageEncrypted": True,
            "StorageType": "gp3",
            "PubliclyAccessible": False,
            "MasterUserPassword": Match.object_like(
                {"Fn::Join": Match.array_with([Match.array_with([Match.string_like_regexp(
                    "resolve:secretsmanager")])])}
            ),
        },
    )  # fmt: skip
    t.has_resource_properties(
        "AWS::SecretsManager::Secret",
        {"GenerateSecretString": Match.object_like({"GenerateStringKey": "password"})},
    )


def test_data_security_groups_admit_only_the_feed_and_the_lambdas(synth: Synth) -> None:
    rules = resources(synth, "Data", "AWS::EC2::SecurityGroupIngress")
    by_port: dict[int, list[str]] = {}
    for rule in rules.values():
        props = rule["Properties"]
        assert "CidrIp" not in props and "CidrIpv6" not in props
        source = json.dumps(props["SourceSecurityGroupId"])
        by_port.setdefault(props["FromPort"], []).append(source)
        assert props["FromPort"] == props["ToPort"]
    assert sorted(by_port) == [5432, 6379]
    for sources in by_port.values():
        assert len(sources) == 2
        assert any("FeedSg" in s for s in sources) and any("LambdaSg" in s for s in sources)
    for group in resources(synth, "Data", "AWS::EC2::SecurityGroup").values():
        assert "SecurityGroupIngress" not in group["Properties"]


def test_http_api_jwt_authorizer_guards_api_except_public_routes(synth: Synth) -> None:
    t = template(synth, "Api")
    t.has_resource_properties(
        "AWS::ApiGatewayV2::Authorizer",
        {
            "AuthorizerType": "JWT",
            "IdentitySource": ["$request.header.Authorization"],
            "JwtConfiguration": {
                # The SPA's client: API Gateway checks `aud` (ID token) or `client_id`.
                "Audience": [{"Ref": "Spa"}],
                "Issuer": Match.object_like({"Fn::Join": Match.any_value()}),
            },
        },
    )
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in resources(synth, "Api", "AWS::ApiGatewayV2::Route").values()
    }
    assert routes["ANY /api/{proxy+}"]["AuthorizationType"] == "JWT"
    public = {key for key, r in routes.items() if r.get("AuthorizationType", "NONE") == "NONE"}
    # Only these answer without a token; the Kite login (POST) and /ws tickets need one.
    assert public - {"$connect", "$disconnect", "$default"} == {
        "GET /api/health", "GET /api/docs", "GET /api/openapi.json", "GET /api/auth/config",
        "GET /api/auth/kite/callback",
    }  # fmt: skip
    assert routes["POST /api/auth/kite/login"]["AuthorizationType"] == "JWT"
    # Both Kite login routes go to the function outside the VPC, the rest to the VPC one.
    integrations = {
        key: r["Properties"]
        for key, r in resources(synth, "Api", "AWS::ApiGatewayV2::Integration").items()
    }

    def target(route_key: str) -> str:
        ref = routes[route_key]["Target"]["Fn::Join"][1][1]["Ref"]
        return json.dumps(integrations[ref]["IntegrationUri"])

    for key in ("POST /api/auth/kite/login", "GET /api/auth/kite/callback"):
        assert "KiteLoginFunction" in target(key), key
    assert "HttpFunction" in target("ANY /api/{proxy+}")
    assert {"$connect", "$disconnect", "$default"} <= set(routes)


def _functions(synth: Synth, stack: str) -> dict[str, dict[str, Any]]:
    return {
        key: res["Properties"]
        for key, res in resources(synth, stack, "AWS::Lambda::Function").items()
        if res["Properties"].get("PackageType") == "Image"
    }


def test_lambdas_are_vpc_images_with_the_handlers(synth: Synth) -> None:
    commands = {}
    for stack in ("Api", "Jobs"):
        for key, props in _functions(synth, stack).items():
            command = props["ImageConfig"]["Command"][0]
            commands[command] = key
            assert props["Architectures"] == ["arm64"]  # the platform the image is built for
            env = props["Environment"]["Variables"]
            if command in ("lambdas.feed_schedule.handler", "lambdas.kite_login.handler"):
                # Outside the VPC (AWS APIs, Kite), with no way to the stores.
                assert "VpcConfig" not in props
                assert not {"REDIS_URL", "DATABASE_URL", "PGPASSWORD"} & set(env)
                continue
            assert props["VpcConfig"]["SubnetIds"]
            assert "NUMBA_CACHE_DIR" not in env  # the Lambdas compile nothing
            assert {"REDIS_URL", "DATABASE_URL", "KITE_SECRET_NAME", "PGPASSWORD"} <= set(env)
            assert env["UNDERLYINGS"] == "NIFTY,SENSEX"  # the jobs and the API: the feed's
            assert "KITE_API_SECRET" not in env  # only the login function holds it
            assert "resolve:secretsmanager" in json.dumps(env["PGPASSWORD"])
    # tests/infra/test_images.py imports exactly these from the image's dependencies.
    assert (
        set(commands)
        == set(LAMBDA_HANDLERS)
        == {
            "lambdas.http_api.handler",
            "lambdas.kite_login.handler",
            "lambdas.ws.handler",
            "lambdas.jobs.eod_handler",
            "lambdas.jobs.cleanup_handler",
            "lambdas.feed_schedule.handler",
        }
    )


def test_login_lambda_gets_the_kite_settings(synth: Synth) -> None:
    login = next(
        p for p in _functions(synth, "Api").values()
        if p["ImageConfig"]["Command"] == ["lambdas.kite_login.handler"]
    )  # fmt: skip
    env = login["Environment"]["Variables"]
    assert env["KITE_API_KEY"] == "testkey"
    assert env["KITE_SECRET_NAME"] == "strikeboard/kite"
    assert env["KITE_API_SECRET"] == (
        "{{resolve:secretsmanager:strikeboard/kite-api-secret:SecretString:::}}"
    )
    assert "cognito-idp" in json.dumps(env["COGNITO_ISSUER"])
    policies = [
        p["Properties"] for p in resources(synth, "Api", "AWS::IAM::Policy").values()
        if "secretsmanager:PutSecretValue" in json.dumps(p["Properties"])
    ]  # fmt: skip
    # Only the login function may write the token, and it may not read it.
    assert len(policies) == 1 and "KiteLoginFunction" in policies[0]["PolicyName"]
    assert "secretsmanager:GetSecretValue" not in json.dumps(policies[0])


def test_cognito_hosted_sign_in_with_a_pkce_client_and_an_admin_group(synth: Synth) -> None:
    t = template(synth, "Api")
    t.has_resource_properties(
        "AWS::Cognito::UserPoolDomain",
        {"Domain": {"Fn::Join": ["-", ["strikeboardapi", {"Ref": "AWS::AccountId"}]]}},
    )
    t.has_resource_properties(
        "AWS::Cognito::UserPoolGroup",
        {"GroupName": "admin", "UserPoolId": {"Ref": Match.string_like_regexp("Users")}},
    )
    [client] = resources(synth, "Api", "AWS::Cognito::UserPoolClient").values()
    props = client["Properties"]
    assert props["GenerateSecret"] is False  # a public client: the SPA uses PKCE
    assert props["AllowedOAuthFlows"] == ["code"] and props["AllowedOAuthFlowsUserPoolClient"]
    assert props["AllowedOAuthScopes"] == ["openid", "email", "profile"]
    assert props["SupportedIdentityProviders"] == ["COGNITO"]
    assert (props["AccessTokenValidity"], props["IdTokenValidity"]) == (1, 1)
    assert props["RefreshTokenValidity"] == 30
    assert props["TokenValidityUnits"] == {"AccessToken": "hours", "IdToken": "hours",
                                           "RefreshToken": "days"}  # fmt: skip
    assert "ALLOW_REFRESH_TOKEN_AUTH" in props["ExplicitAuthFlows"]
    # The API stack deploys before CloudFront exists: a placeholder the Web stack replaces.
    assert props["CallbackURLs"] == ["https://localhost/auth/callback"]
    env = next(
        p for p in _functions(synth, "Api").values()
        if p["ImageConfig"]["Command"] == ["lambdas.http_api.handler"]
    )["Environment"]["Variables"]  # fmt: skip
    assert env["COGNITO_CLIENT_ID"] == {"Ref": "Spa"} and env["ADMIN_GROUP"] == "admin"
    domain = json.dumps(env["COGNITO_DOMAIN"])
    assert "https://" in domain and ".auth." in domain and "amazoncognito.com" in domain


def test_web_stack_points_the_client_at_cloudfront(synth: Synth) -> None:
    [call] = resources(synth, "Web", "Custom::AWS").values()
    create = call["Properties"]["Create"]
    text = json.dumps(create)
    assert "updateUserPoolClient" in text and "UserPoolClientId" not in text
    for fragment in ('"AllowedOAuthFlows\\":[\\"code\\"]', "/auth/callback",
                     '\\"RefreshTokenValidity\\":30'):  # fmt: skip
        assert fragment in text, fragment
    # The URLs are CloudFront's domain (a reference to the distribution), not the placeholder.
    assert "localhost" not in text and "Cdn" in text and "DomainName" in text
    t = template(synth, "Web")
    t.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {"Action": "cognito-idp:UpdateUserPoolClient", "Effect": "Allow"}
                    )
                ]
            }
        },
    )


KITE_SECRET_GENERATOR = {
    "SecretStringTemplate": json.dumps({"access_token": ""}),
    "GenerateStringKey": "placeholder",
    "ExcludePunctuation": True,
    "PasswordLength": 16,
}


def _without_api_key_env(node: Any) -> Any:
    """`node` with every KITE_API_KEY environment entry (Lambda or ECS form) left out."""
    if isinstance(node, dict):
        return {k: _without_api_key_env(v) for k, v in node.items() if k != "KITE_API_KEY"}
    if isinstance(node, list):
        return [_without_api_key_env(v) for v in node
                if not (isinstance(v, dict) and v.get("Name") == "KITE_API_KEY")]  # fmt: skip
    return node


def test_no_template_carries_a_kite_secret_value(synth: Synth) -> None:
    """A redeploy cannot overwrite the day's token: the Kite secret is created with a generated
    token-less value (CloudFormation generates it once), and no secret has a SecretString."""
    [kite] = [
        r["Properties"] for r in resources(synth, "Data", "AWS::SecretsManager::Secret").values()
        if r["Properties"].get("Name") == "strikeboard/kite"
    ]  # fmt: skip
    assert kite["GenerateSecretString"] == KITE_SECRET_GENERATOR
    for name, tpl in synth.templates.items():
        for res in tpl["Resources"].values():
            if res["Type"] == "AWS::SecretsManager::Secret":
                assert "SecretString" not in res["Properties"], name
        # The API key is plain config, KITE_API_KEY of the feed and the API, and nothing else.
        assert "testkey" not in json.dumps(_without_api_key_env(tpl)), name
    feed = next(iter(resources(synth, "Feed", "AWS::ECS::TaskDefinition").values()))
    [container] = [c for c in feed["Properties"]["ContainerDefinitions"] if c["Name"] == "feed"]
    assert {"Name": "KITE_API_KEY", "Value": "testkey"} in container["Environment"]
    assert {"Name": "UNDERLYINGS", "Value": "NIFTY,SENSEX"} in container["Environment"]


def test_ws_default_route_answers_through_its_route_response(synth: Synth) -> None:
    routes = {
        r["Properties"]["RouteKey"]: (key, r["Properties"])
        for key, r in resources(synth, "Api", "AWS::ApiGatewayV2::Route").items()
    }
    default_key, default = routes["$default"]
    assert default["RouteResponseSelectionExpression"] == "$default"
    [response] = resources(synth, "Api", "AWS::ApiGatewayV2::RouteResponse").values()
    assert response["Properties"]["RouteResponseKey"] == "$default"
    assert response["Properties"]["RouteId"] == {"Ref": default_key}
    # No Management API for the function: it needs no way out of the VPC.
    ws = [
        p["Properties"] for p in resources(synth, "Api", "AWS::IAM::Policy").values()
        if "WsFunction" in p["Properties"]["PolicyName"]
    ]  # fmt: skip
    assert "execute-api:ManageConnections" not in json.dumps(ws)
    [fn] = [
        f for f in _functions(synth, "Api").values()
        if f["ImageConfig"]["Command"] == ["lambdas.ws.handler"]
    ]  # fmt: skip
    assert "PUSH_ENDPOINT_URL" not in fn["Environment"]["Variables"]


def test_feed_task_runs_feed_and_pusher(synth: Synth) -> None:
    tasks = resources(synth, "Feed", "AWS::ECS::TaskDefinition")
    assert len(tasks) == 1
    props = next(iter(tasks.values()))["Properties"]
    assert props["RequiresCompatibilities"] == ["FARGATE"]
    assert props["RuntimePlatform"] == {
        "CpuArchitecture": "ARM64",
        "OperatingSystemFamily": "LINUX",
    }
    containers = {c["Name"]: c for c in props["ContainerDefinitions"]}
    assert set(containers) == {"feed", "pusher"}
    assert containers["feed"]["Command"] == ["python", "-m", "feed_container"]
    assert containers["pusher"]["Command"] == ["python", "-m", "strikeboard.push"]
    # tests/infra/test_images.py imports these mains from the image's dependencies.
    assert {c["Command"][2] for c in containers.values()} == set(FEED_MAINS)
    assert containers["feed"]["Image"] == containers["pusher"]["Image"]
    for c in containers.values():
        env = {e["Name"]: e["Value"] for e in c["Environment"]}
        assert {"REDIS_URL", "DATABASE_URL", "KITE_SECRET_NAME"} <= set(env)
        assert "rediss://" in json.dumps(env["REDIS_URL"])  # TLS to ElastiCache
        assert [s["Name"] for s in c["Secrets"]] == ["PGPASSWORD"]
    feed_env = {e["Name"]: e["Value"] for e in containers["feed"]["Environment"]}
    pusher_env = {e["Name"]: e["Value"] for e in containers["pusher"]["Environment"]}
    assert feed_env["SPOOL_DIR"] == "/var/lib/strikeboard/spool"
    assert "execute-api" in json.dumps(pusher_env["PUSH_ENDPOINT_URL"])
    assert "/prod" in json.dumps(pusher_env["PUSH_ENDPOINT_URL"])

    t = template(synth, "Feed")
    t.has_resource_properties(
        "AWS::ECS::Service",
        {
            "LaunchType": "FARGATE",
            "DeploymentConfiguration": Match.object_like(
                {"MinimumHealthyPercent": 0, "MaximumPercent": 100}
            ),
            "NetworkConfiguration": {
                # Public subnet + public IP: Kite and AWS APIs without NAT (docs/deploy.md).
                "AwsvpcConfiguration": Match.object_like({"AssignPublicIp": "ENABLED"})
            },
        },
    )
    t.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyName": Match.string_like_regexp("TaskRole"),
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Action": "execute-api:ManageConnections"})]
                )
            },
        },
    )


def test_feed_spool_on_efs_survives_a_task_replacement(synth: Synth) -> None:
    """The spool on an encrypted EFS file system the next task finds; the feed drains it on
    SIGTERM within its stop timeout; one feed task at a time."""
    t = template(synth, "Feed")
    t.resource_count_is("AWS::EFS::FileSystem", 1)
    t.has_resource(
        "AWS::EFS::FileSystem",
        {
            "Properties": Match.object_like({"Encrypted": True, "ThroughputMode": "bursting"}),
            "DeletionPolicy": "Retain",  # it may hold records PostgreSQL has not taken yet
        },
    )
    (fs,) = resources(synth, "Feed", "AWS::EFS::FileSystem").values()
    assert "LifecyclePolicies" not in fs["Properties"]
    assert "BackupPolicy" not in fs["Properties"] or fs["Properties"]["BackupPolicy"] == {
        "Status": "DISABLED"
    }
    statements = fs["Properties"]["FileSystemPolicy"]["Statement"]
    assert {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}} in statements  # fmt: skip
    t.has_resource_properties(
        "AWS::EFS::AccessPoint",
        {
            "PosixUser": {"Uid": "10001", "Gid": "10001"},  # the image's non-root user
            "RootDirectory": {
                "Path": "/spool",
                "CreationInfo": {"OwnerUid": "10001", "OwnerGid": "10001", "Permissions": "750"},
            },
        },
    )
    # NFS from the feed's security group only.
    (rule,) = resources(synth, "Feed", "AWS::EC2::SecurityGroupIngress").values()
    assert rule["Properties"]["FromPort"] == rule["Properties"]["ToPort"] == 2049
    assert "FeedSg" in json.dumps(rule["Properties"]["SourceSecurityGroupId"])

    (task,) = resources(synth, "Feed", "AWS::ECS::TaskDefinition").values()
    (volume,) = task["Properties"]["Volumes"]
    efs_config = volume["EFSVolumeConfiguration"]
    assert efs_config["TransitEncryption"] == "ENABLED"
    assert efs_config["AuthorizationConfig"]["IAM"] == "ENABLED"
    assert "AccessPointId" in efs_config["AuthorizationConfig"]
    containers = {c["Name"]: c for c in task["Properties"]["ContainerDefinitions"]}
    feed = containers["feed"]
    assert feed["MountPoints"] == [{"ContainerPath": "/var/lib/strikeboard/spool",
                                    "ReadOnly": False, "SourceVolume": volume["Name"]}]  # fmt: skip
    env = {e["Name"]: e["Value"] for e in feed["Environment"]}
    assert env["SPOOL_DIR"] == "/var/lib/strikeboard/spool"
    # The drain fits in the stop timeout with room for the archiver's last step.
    assert 0 < float(env["FEED_DRAIN_S"]) <= feed["StopTimeout"] - 15
    assert feed["StopTimeout"] <= 120  # Fargate's maximum
    assert "MountPoints" not in containers["pusher"]
    t.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyName": Match.string_like_regexp("TaskRole"),
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": [
                                    "elasticfilesystem:ClientMount",
                                    "elasticfilesystem:ClientWrite",
                                ],
                                "Condition": {
                                    "StringEquals": {
                                        "elasticfilesystem:AccessPointArn": Match.any_value()
                                    }
                                },
                            }
                        )
                    ]
                )
            },
        },
    )
    # Stop the old task, then start the new one: never two feeds on one Kite account; a
    # deployment that cannot get a task running rolls back.
    (service,) = resources(synth, "Feed", "AWS::ECS::Service").values()
    deployment = service["Properties"]["DeploymentConfiguration"]
    assert (deployment["MinimumHealthyPercent"], deployment["MaximumPercent"]) == (0, 100)
    assert deployment["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    assert "DesiredCount" not in service["Properties"]  # the trading-day schedule sets it
    assert any("MountTarget" in d for d in service["DependsOn"])  # mounted from the first task


def test_schedules_in_ist_on_weekdays(synth: Synth) -> None:
    schedules = resources(synth, "Jobs", "AWS::Scheduler::Schedule")
    functions = _functions(synth, "Jobs")
    handler_of = {key: props["ImageConfig"]["Command"][0] for key, props in functions.items()}
    found: dict[str, set[str]] = {}
    for res in schedules.values():
        props = res["Properties"]
        assert props["ScheduleExpressionTimezone"] == "Asia/Kolkata"
        assert props["State"] == "ENABLED"
        target_fn = props["Target"]["Arn"]["Fn::GetAtt"][0]
        found.setdefault(handler_of[target_fn], set()).add(props["ScheduleExpression"])
        payload = json.loads(props["Target"]["Input"])
        assert payload["time"] == "<aws.scheduler.scheduled-time>"
    assert found["lambdas.jobs.eod_handler"] == {"cron(15 16 ? * MON-FRI *)"}
    assert found["lambdas.jobs.cleanup_handler"] == {"cron(30 23 ? * MON-FRI *)"}
    assert "cron(30 8 ? * MON-FRI *)" in found["lambdas.feed_schedule.handler"]


def test_web_private_bucket_behind_cloudfront_with_api_and_ws(synth: Synth) -> None:
    t = template(synth, "Web")
    t.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "LoggingConfiguration": Match.object_like({"LogFilePrefix": "s3/"}),
        },
    )
    t.resource_count_is("AWS::CloudFront::OriginAccessControl", 1)
    dist = next(iter(resources(synth, "Web", "AWS::CloudFront::Distribution").values()))
    config = dist["Properties"]["DistributionConfig"]
    behaviors = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    assert set(behaviors) == {"/api/*", "/ws"}
    assert behaviors["/ws"]["FunctionAssociations"][0]["EventType"] == "viewer-request"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    # SPA routes by a function on the S3 behaviour only: /api/* and /ws keep their statuses.
    assert "CustomErrorResponses" not in config
    [spa] = config["DefaultCacheBehavior"]["FunctionAssociations"]
    assert spa["EventType"] == "viewer-request"
    for behavior in behaviors.values():
        assert spa["FunctionARN"] not in behavior.get("FunctionAssociations", [])
    origins = json.dumps(config["Origins"])
    assert "execute-api" in origins
    t.resource_count_is("Custom::CDKBucketDeployment", 1)


def test_images_are_staged_not_built(synth: Synth) -> None:
    """Synthesis stages a minimal Docker context; `cdk deploy` builds it for linux/arm64, the
    platform tests/infra/test_images.py installs the images' wheels for."""
    images = {}
    for name in ("Feed", "Api", "Jobs"):
        manifest = json.loads((synth.outdir / f"Strikeboard{name}.assets.json").read_text())
        for image in manifest["dockerImages"].values():
            images[image["source"]["dockerFile"]] = image["source"]
    assert set(images) == {image.dockerfile for image in IMAGES}
    for image in IMAGES:
        source = images[image.dockerfile]
        assert source["platform"] == DOCKER_PLATFORM == "linux/arm64"
        context = synth.outdir / source["directory"]
        assert (context / source["dockerFile"]).is_file()
        assert (context / "infra/docker/install-deps.sh").is_file()
        staged = {p.name for p in context.iterdir()}
        assert {"pyproject.toml", "uv.lock", *image.sources} <= staged
        assert not staged & {".venv", "web", "tests", ".local", ".git", "README.md"}


def _cloudfront_function(synth: Synth, name: str) -> str:
    [fn] = [
        r["Properties"]["FunctionCode"]
        for key, r in resources(synth, "Web", "AWS::CloudFront::Function").items()
        if key.startswith(name)
    ]
    return str(fn)


def test_spa_route_function_serves_index_for_client_routes_only(synth: Synth) -> None:
    """The CloudFront Function's own code, run by Node: paths without a dot are the SPA."""
    code = _cloudfront_function(synth, "SpaRoutes")
    cases = ["/", "/chain", "/auth/callback", "/analytics/oi/", "/assets/index-abc.js",
             "/favicon.ico", "/v1.2/thing"]  # fmt: skip
    script = code + (
        "\nconsole.log(JSON.stringify(" + json.dumps(cases)
        + ".map(function (u) { return handler({request: {uri: u}}).uri; })));"
    )  # fmt: skip
    out = subprocess.run([str(NODE), "-e", script], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == ["/index.html", "/index.html", "/index.html",
                                      "/index.html", "/assets/index-abc.js", "/favicon.ico",
                                      "/index.html"]  # fmt: skip


def test_user_alerts_topic_the_feed_publishes_to(synth: Synth) -> None:
    """The users' e-mail alerts have a topic of their own (not the operators' alarms topic),
    encrypted and SSL-only; the feed's task role may publish to it, and the feed and the API
    get its ARN (ALERTS_TOPIC_ARN: the API offers e-mail only when it is set)."""
    ((topic_id, topic),) = resources(synth, "Data", "AWS::SNS::Topic").items()
    assert "alias/aws/sns" in json.dumps(topic["Properties"]["KmsMasterKeyId"])
    template(synth, "Data").has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {"PolicyDocument": {"Statement": Match.array_with([Match.object_like({
            "Effect": "Deny", "Action": "sns:Publish",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}})])}},
    )  # fmt: skip
    publish = [
        statement
        for policy in resources(synth, "Feed", "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "sns:Publish"
    ]
    assert len(publish) == 1 and topic_id in json.dumps(publish[0]["Resource"])
    (task,) = resources(synth, "Feed", "AWS::ECS::TaskDefinition").values()
    feed = next(c for c in task["Properties"]["ContainerDefinitions"] if c["Name"] == "feed")
    env = {e["Name"]: e["Value"] for e in feed["Environment"]}
    assert topic_id in json.dumps(env["ALERTS_TOPIC_ARN"])
    http = next(f for k, f in resources(synth, "Api", "AWS::Lambda::Function").items()
                if k.startswith("HttpFunction"))  # fmt: skip
    variables = http["Properties"]["Environment"]["Variables"]
    assert topic_id in json.dumps(variables["ALERTS_TOPIC_ARN"])


def _sns_actions(synth: Synth, stack: str, role: dict[str, Any]) -> dict[str, str]:
    """The SNS actions the role's policies allow in ``stack``, each with its resources."""
    statements = [
        statement
        for policy in resources(synth, stack, "AWS::IAM::Policy").values()
        if role in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if any(a.startswith("sns:") for a in _list(statement["Action"]))
    ]
    return {a: json.dumps(s["Resource"]) for s in statements for a in _list(s["Action"])}


def test_the_feed_manages_alert_email_subscriptions_on_that_topic_only(synth: Synth) -> None:
    """The users' e-mail subscriptions are made by the feed (its task reaches SNS from the
    public subnets; the API Lambda's isolated subnets do not, and no SNS endpoint is paid
    for): the task role may publish to and subscribe to the UserAlerts topic, and read and
    delete that topic's subscriptions (ARN: the topic's plus ":<id>"); nothing else of SNS.
    The API's functions have no SNS permission at all."""
    ((topic_id, _),) = resources(synth, "Data", "AWS::SNS::Topic").items()
    export = synth.app.data.user_alerts_export
    (output,) = [o for o in synth.templates["StrikeboardData"]["Outputs"].values()
                 if o.get("Export", {}).get("Name") == export]  # fmt: skip
    assert output["Value"] == {"Ref": topic_id}
    (task,) = resources(synth, "Feed", "AWS::ECS::TaskDefinition").values()
    actions = _sns_actions(
        synth, "Feed", {"Ref": task["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]}
    )
    assert set(actions) == {"sns:Publish", "sns:Subscribe", "sns:Unsubscribe",
                            "sns:GetSubscriptionAttributes"}  # fmt: skip
    for action in ("sns:Subscribe", "sns:Unsubscribe", "sns:GetSubscriptionAttributes"):
        resource = actions[action]
        assert export in resource and "*" not in resource.replace(":*", ""), action
    assert ":*" in actions["sns:Unsubscribe"] and ":*" not in actions["sns:Subscribe"]
    for key, function in resources(synth, "Api", "AWS::Lambda::Function").items():
        role = function["Properties"].get("Role", {}).get("Fn::GetAtt", [None])[0]
        if role is not None:
            assert _sns_actions(synth, "Api", {"Ref": role}) == {}, key
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        assert "ALERTS_EMAIL_SUBSCRIBE" not in variables, key
    endpoints = resources(synth, "Network", "AWS::EC2::VPCEndpoint").values()
    assert all("sns" not in json.dumps(e["Properties"]["ServiceName"]) for e in endpoints)


def _list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]
