"""Context switches change the templates as documented (docs/deploy.md): one more synthesis."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import NODE, SKIP_REASON, Synth

if NODE is None:
    pytest.skip(SKIP_REASON, allow_module_level=True)

import aws_cdk as cdk
from aws_cdk.assertions import Template

from infra.app import build_app
from infra.stacks.api import cognito_domain_prefix
from infra.stacks.network import NetworkStack

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/abc"


@pytest.fixture(scope="module")
def assembly(tmp_path_factory: pytest.TempPathFactory) -> Any:
    empty_dist = tmp_path_factory.mktemp("nodist")  # no index.html: nothing to upload
    context = {
        "multi_az": "true",
        "nat_gateways": "2",
        "egress": "gateway",
        "domain_name": "chain.example.com",
        "certificate_arn": CERT,
        "prefix": "Team",
        "kite_secret_name": "team/kite",
        "web_dist": str(empty_dist),
        "cognito_domain_prefix": "team-chain",
        "alarm_email": "oncall@example.com",
        "tracing": "true",
        "container_insights": "true",
        "feed_cpu": "1024",
        "feed_memory_mb": "4096",
    }
    outdir = tmp_path_factory.mktemp("cdk.out")
    return build_app(context, outdir=str(outdir)).app.synth()


@pytest.fixture(scope="module")
def templates(assembly: Any) -> dict[str, dict[str, Any]]:
    return {
        s.stack_name: json.loads(Path(s.template_full_path).read_text()) for s in assembly.stacks
    }


def _props(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


def test_prefix_names_the_stacks(templates: dict[str, dict[str, Any]]) -> None:
    assert sorted(templates) == sorted(
        f"Team{n}" for n in ("Network", "Data", "Api", "Feed", "Jobs", "Ops", "Web")
    )


def test_alarm_email_subscribes_and_the_alarms_carry_the_prefix(
    templates: dict[str, dict[str, Any]], synth: Synth
) -> None:
    [sub] = _props(templates["TeamOps"], "AWS::SNS::Subscription")
    assert sub["Protocol"] == "email" and sub["Endpoint"] == "oncall@example.com"
    assert not _props(synth.templates["StrikeboardOps"], "AWS::SNS::Subscription")
    names = {a.get("AlarmName") for a in _props(templates["TeamOps"], "AWS::CloudWatch::Alarm")}
    assert {"Team-feed-no-tick", "Team-feed-token", "Team-feed-task"} <= names
    command = ["lambdas.feed_schedule.handler"]
    [fn] = [f for f in _props(templates["TeamJobs"], "AWS::Lambda::Function")
            if f.get("ImageConfig", {}).get("Command") == command]  # fmt: skip
    assert fn["Environment"]["Variables"]["ALARM_PREFIX"] == "Team-"


def test_multi_az_stores_and_two_nat_gateways(templates: dict[str, dict[str, Any]]) -> None:
    [redis] = _props(templates["TeamData"], "AWS::ElastiCache::ReplicationGroup")
    assert redis["NumCacheClusters"] == 2
    assert redis["AutomaticFailoverEnabled"] is True and redis["MultiAZEnabled"] is True
    [db] = _props(templates["TeamData"], "AWS::RDS::DBInstance")
    assert db["MultiAZ"] is True
    assert len(_props(templates["TeamNetwork"], "AWS::EC2::NatGateway")) == 2
    assert not _props(templates["TeamNetwork"], "AWS::EC2::Instance")  # no NAT instance


def test_the_kite_secret_is_the_same_whatever_the_context(
    templates: dict[str, dict[str, Any]], synth: Synth, assembly: Any
) -> None:
    """Without kite_api_key (and with other settings) the secret's properties do not change
    but for its name: a redeploy never touches the value; synthesis warns of the missing key."""
    [secret] = [
        s for s in _props(templates["TeamData"], "AWS::SecretsManager::Secret")
        if s.get("Name") == "team/kite"
    ]  # fmt: skip
    [default] = [
        s for s in _props(synth.templates["StrikeboardData"], "AWS::SecretsManager::Secret")
        if s.get("Name") == "strikeboard/kite"
    ]  # fmt: skip
    assert {**secret, "Name": "strikeboard/kite"} == default
    assert "SecretString" not in secret
    warnings = [
        m.entry.data for m in assembly.get_stack_by_name("TeamData").messages
        if m.level.name == "WARNING"
    ]  # fmt: skip
    assert any("kite_api_key is empty" in str(w) for w in warnings), warnings


def test_custom_domain_and_no_upload_without_a_build(
    templates: dict[str, dict[str, Any]],
) -> None:
    web = templates["TeamWeb"]
    [dist] = _props(web, "AWS::CloudFront::Distribution")
    config = dist["DistributionConfig"]
    assert config["Aliases"] == ["chain.example.com"]
    assert config["ViewerCertificate"]["AcmCertificateArn"] == CERT
    assert config["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert not _props(web, "Custom::CDKBucketDeployment")
    # Sign-in comes back to the custom domain, on the hosted UI's own chosen prefix.
    [call] = _props(web, "Custom::AWS")
    assert "https://chain.example.com/auth/callback" in json.dumps(call["Create"])
    [domain] = _props(templates["TeamApi"], "AWS::Cognito::UserPoolDomain")
    assert domain["Domain"] == "team-chain"
    # The login Lambda has no API secret without kite_api_secret_name (login answers 503).
    for fn in _props(templates["TeamApi"], "AWS::Lambda::Function"):
        assert "KITE_API_SECRET" not in fn.get("Environment", {}).get("Variables", {})


def test_a_bad_cognito_domain_prefix_is_refused() -> None:
    for bad in ("Team", "-team", "team-", "my-aws-team", "cognito1", "a" * 64, "t_x"):
        with pytest.raises(ValueError, match="cognito_domain_prefix"):
            cognito_domain_prefix(bad)
    assert cognito_domain_prefix("team-chain-1") == "team-chain-1"


def test_an_unknown_egress_is_refused() -> None:
    with pytest.raises(ValueError, match="egress 'nat'"):
        NetworkStack(cdk.App(), "Net", egress="nat")  # type: ignore[arg-type]


def test_egress_instance_is_a_nat_instance_for_the_vpc_only() -> None:
    stack = NetworkStack(cdk.App(), "Net", egress="instance")
    t = Template.from_stack(stack)
    t.resource_count_is("AWS::EC2::NatGateway", 0)
    t.has_resource_properties(
        "AWS::EC2::Instance", {"InstanceType": "t4g.nano", "SourceDestCheck": False}
    )
    # The NAT instance forwards for the VPC only: nothing from the internet comes in.
    [nat_sg] = [
        r["Properties"] for key, r in t.to_json()["Resources"].items()
        if r["Type"] == "AWS::EC2::SecurityGroup" and key.startswith("VpcNatSecurityGroup")
    ]  # fmt: skip
    assert [rule["CidrIp"] for rule in nat_sg["SecurityGroupIngress"]] == ["10.0.0.0/16"]


def test_tracing_container_insights_and_the_feed_size_are_switches(
    templates: dict[str, dict[str, Any]], synth: Synth
) -> None:
    for name, switched in (("Team", templates), ("Strikeboard", synth.templates)):
        functions = [
            f for stack in ("Api", "Jobs") for f in _props(switched[f"{name}{stack}"],
                                                           "AWS::Lambda::Function")
            if "ImageConfig" in f
        ]  # fmt: skip
        [cluster] = _props(switched[f"{name}Feed"], "AWS::ECS::Cluster")
        [task] = _props(switched[f"{name}Feed"], "AWS::ECS::TaskDefinition")
        insights = {s["Name"]: s["Value"] for s in cluster["ClusterSettings"]}
        if name == "Team":
            assert all(f["TracingConfig"] == {"Mode": "Active"} for f in functions)
            assert insights == {"containerInsights": "enabled"}
            assert (task["Cpu"], task["Memory"]) == ("1024", "4096")
        else:  # the defaults: off, off, 0.5 vCPU and 2 GB
            assert not any("TracingConfig" in f for f in functions)
            assert insights == {"containerInsights": "disabled"}
            assert (task["Cpu"], task["Memory"]) == ("512", "2048")
