"""The cost model (infra/cost.py) knows every resource type of the app and prices it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from conftest import NODE, SKIP_REASON, Synth

from infra import cost

pytestmark = pytest.mark.skipif(NODE is None, reason=SKIP_REASON)

TARGET_10_USERS_USD = 60.0


def test_every_resource_type_is_priced_or_free(synth: Synth) -> None:
    assert cost.unknown_types(synth.templates) == {}


def test_an_unknown_priced_resource_fails_the_model(synth: Synth) -> None:
    templates: dict[str, Any] = {
        **synth.templates,
        "Extra": {"Resources": {"Gw": {"Type": "AWS::EC2::TransitGateway", "Properties": {}}}},
    }
    assert cost.unknown_types(templates) == {"Extra": {"AWS::EC2::TransitGateway"}}
    with pytest.raises(cost.UnknownResourceTypeError, match="TransitGateway"):
        cost.price(templates, cost.Usage())


def test_free_and_priced_lists_do_not_overlap() -> None:
    assert not cost.FREE_TYPES & set(cost.PRICERS)
    for key, price in cost.PRICES.items():
        assert price.usd > 0 and price.source.startswith("https://aws.amazon.com/"), key


def test_ten_users_cost_less_than_the_target(synth: Synth) -> None:
    lines = cost.price(synth.templates, cost.Usage(users=10))
    services = cost.by_service(lines)
    assert cost.total(lines) < TARGET_10_USERS_USD, services


def test_ten_users_pay_for_no_nat_only_the_feed_public_ip(synth: Synth) -> None:
    lines = cost.price(synth.templates, cost.Usage(users=10))
    services = cost.by_service(lines)
    assert "Fargate" in services and "RDS PostgreSQL" in services
    assert [line.item for line in lines if line.service == "VPC egress"] == [
        "feed task public IPv4"  # the feed in a public subnet, nothing else
    ]


def test_a_nat_instance_is_priced_when_the_egress_context_brings_it_back() -> None:
    import aws_cdk as cdk  # noqa: PLC0415  (the module skips first without node)
    from aws_cdk.assertions import Template  # noqa: PLC0415

    from infra.stacks.network import NetworkStack  # noqa: PLC0415

    network = Template.from_stack(NetworkStack(cdk.App(), "Net", egress="instance")).to_json()
    lines = cost.price({"Net": network}, cost.Usage(users=10))
    items = {line.item for line in lines if line.service == "VPC egress"}
    assert {"NAT instance t4g.nano", "NAT instance t4g.nano: public IPv4"} <= items


def test_always_free_tiers_are_applied_once(synth: Synth) -> None:
    lines = cost.price(synth.templates, cost.Usage(users=10))
    alarms = [line for line in lines if line.item == "alarms"]
    assert len(alarms) > cost.FREE_TIER["cloudwatch_alarms"]  # the Ops stack's alarms
    assert sum(a.usd for a in alarms) == pytest.approx(
        (len(alarms) - cost.FREE_TIER["cloudwatch_alarms"]) * cost.PRICES["alarm_month"].usd
    )
    [credit] = [line for line in lines if line.item.startswith("always-free tier")]
    compute, requests = (
        sum(line.usd for line in lines if line.service == "Lambda" and line.item.endswith(kind))
        for kind in (" compute", " requests")
    )
    # 10 users: the compute is all free, the requests (1.16 M) only their first million.
    assert requests > 0.2
    assert -credit.usd == pytest.approx(compute + 0.2)
    big = cost.price(synth.templates, cost.Usage(users=1000))
    assert cost.by_service(big)["Lambda"] > 50  # the tier is a fixed allowance, not a rate


def test_the_feed_is_priced_for_its_hours_on_graviton(synth: Synth) -> None:
    usage = cost.Usage()
    fargate = [line for line in cost.price(synth.templates, usage) if line.service == "Fargate"]
    vcpu = next(line for line in fargate if "vCPU (arm)" in line.item)
    assert vcpu.usd == pytest.approx(
        0.5 * usage.feed_hours * cost.PRICES["fargate_arm_vcpu_hour"].usd
    )  # 0.5 vCPU, 08:30-16:05 on 21 days, not 730 hours
    longer = cost.price(synth.templates, replace(usage, feed_hours_per_day=24, trading_days=30))
    assert cost.by_service(longer)["Fargate"] > 4 * cost.by_service(cost.price(
        synth.templates, usage))["Fargate"]  # fmt: skip


def test_usage_scales_the_per_user_services(synth: Synth) -> None:
    small, big = (cost.by_service(cost.price(synth.templates, cost.Usage(users=n)))
                  for n in (10, 1000))  # fmt: skip
    assert big["API Gateway WebSocket"] == pytest.approx(100 * small["API Gateway WebSocket"])
    assert big["RDS PostgreSQL"] == small["RDS PostgreSQL"]  # fixed


def test_one_message_a_cycle_halves_the_websocket_bill() -> None:
    combined = cost.Usage(users=10)
    separate = replace(combined, combined_messages=False)
    assert separate.ws_messages == pytest.approx(2 * combined.ws_messages, rel=0.01)
    # 10 users, 4 Hz, 6.6 h, 21 days: about 20 M messages a month, 40 M sent apart.
    assert 19e6 < combined.ws_messages < 21e6


def test_no_nat_is_the_cheapest_egress_that_holds() -> None:
    options = cost.egress_options(cost.Usage())
    [(chosen, holds)] = [value for name, value in options.items() if "(chosen)" in name]
    assert chosen == 0 and holds.startswith("holds")
    assert options["NAT instance t4g.nano, feed public"][0] < 10
    assert options["NAT gateway, feed public"][0] > 10


def test_report_prints_a_total_per_user_count(synth: Synth) -> None:
    text = cost.report(synth.templates, [cost.Usage(users=n) for n in (10, 100, 1000)])
    assert "1,000 users" in text and text.splitlines()[-1].startswith("Total")
    assert cost.PRICES_DATE in text


def test_reads_a_cdk_out_directory(synth: Synth) -> None:
    assert sorted(cost.read_cdk_out(synth.outdir)) == sorted(synth.templates)
