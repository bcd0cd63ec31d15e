"""workerNetworkEgress: the NAT path the VPC provides (default, nothing declared) or the VPC endpoints the
stack declares for every AWS API the worker and its bootstrap call (components/worker_endpoints.py)."""

from __future__ import annotations

import copy
import re

import botocore.session
import pytest
from pipeline_policies.rules.egress import egress_endpoints_complete

from preview.gate import evaluate, load_policies
from preview.render import ProgramError, RenderedStack, render_program
from tests.paths import REPO_ROOT
from tests.program.test_fleet import user_data
from tests.program.test_pipeline import one

PROJECT = "cis-file-pipeline"
ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"


@pytest.fixture(scope="module")
def endpoints_stack() -> RenderedStack:
    return render_program(REPO_ROOT, "production", {f"{PROJECT}:workerNetworkEgress": "vpc-endpoints"})


def endpoint_services(stack: RenderedStack) -> dict[str, dict]:
    """Service suffix (`sqs`, `s3`) -> the endpoint's inputs."""
    return {r.inputs["serviceName"].rsplit(".", 1)[1]: r.inputs for r in stack.of_type(ENDPOINT)}


def called_services(stack: RenderedStack) -> set[str]:
    """The endpoint prefixes of every boto3 client in worker/ and every `aws` CLI call in the user data."""
    clients = {
        name
        for path in (REPO_ROOT / "worker").glob("*.py")
        for name in re.findall(r'client\(\s*"([a-z0-9-]+)"', path.read_text())
    }
    commands = set(re.findall(r"^\s*aws ([a-z0-9-]+) ", user_data(stack), re.MULTILINE))
    session = botocore.session.get_session()
    return {session.get_service_model(name).endpoint_prefix for name in clients | commands}


def test_nat_is_the_default_and_declares_no_endpoints(production):
    assert production.of_type(ENDPOINT) == []
    assert [r.name for r in production.of_type(SECURITY_GROUP)] == ["workers-sg"]


def test_every_api_the_worker_and_its_bootstrap_call_has_an_endpoint(endpoints_stack):
    called = called_services(endpoints_stack)
    assert {"sqs", "s3", "monitoring", "autoscaling"} <= called  # the scan found the clients at all
    assert called <= set(endpoint_services(endpoints_stack))


def test_s3_is_a_gateway_endpoint_on_the_private_subnets_route_tables(endpoints_stack):
    s3 = endpoint_services(endpoints_stack)["s3"]
    assert s3["serviceName"] == "com.amazonaws.ap-northeast-1.s3"
    assert s3["vpcEndpointType"] == "Gateway"
    subnets = one(endpoints_stack, "aws:autoscaling/group:Group", "workers-group").inputs[
        "vpcZoneIdentifiers"
    ]
    assert len(s3["routeTableIds"]) == len(subnets) == 2  # the offline lookup: one table per subnet
    assert all(table.startswith("rtb-") for table in s3["routeTableIds"])


def test_interface_endpoints_have_private_dns_and_admit_443_from_the_workers_only(endpoints_stack):
    workers = one(endpoints_stack, SECURITY_GROUP, "workers-sg")
    guard = one(endpoints_stack, SECURITY_GROUP, "worker-endpoints-sg")
    [rule] = guard.inputs["ingress"]
    assert (rule["protocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 443, 443)
    assert rule["securityGroups"] == [workers.outputs["id"]]
    assert not rule.get("cidrBlocks") and not rule.get("ipv6CidrBlocks")
    subnets = one(endpoints_stack, "aws:autoscaling/group:Group", "workers-group").inputs[
        "vpcZoneIdentifiers"
    ]
    interfaces = {name: e for name, e in endpoint_services(endpoints_stack).items() if name != "s3"}
    assert {"sqs", "monitoring", "autoscaling"} <= set(interfaces)
    for name, endpoint in interfaces.items():
        assert endpoint["vpcEndpointType"] == "Interface", name
        assert endpoint["privateDnsEnabled"] is True, name
        assert endpoint["subnetIds"] == subnets, name
        assert endpoint["securityGroupIds"] == [guard.outputs["id"]], name


def test_endpoints_mode_passes_the_pack(endpoints_stack):
    result = evaluate(endpoints_stack.resources, load_policies())
    assert result.violations == []
    assert result.could_not_run == []


def test_route_tables_can_be_named_in_config():
    stack = render_program(
        REPO_ROOT,
        "production",
        {
            f"{PROJECT}:workerNetworkEgress": "vpc-endpoints",
            f"{PROJECT}:privateRouteTableIds": '["rtb-0123456789abcdef0"]',
        },
    )
    assert endpoint_services(stack)["s3"]["routeTableIds"] == ["rtb-0123456789abcdef0"]


def test_lambda_mode_declares_no_endpoints():
    stack = render_program(REPO_ROOT, "lambda", {f"{PROJECT}:workerNetworkEgress": "vpc-endpoints"})
    assert stack.of_type(ENDPOINT) == []


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"workerNetworkEgress": "internet"},
            "invalid setting workerNetworkEgress='internet': must be one of nat, vpc-endpoints",
        ),
        (
            {"workerNetworkEgress": "vpc-endpoints", "privateRouteTableIds": '["main"]'},
            "invalid setting privateRouteTableIds='main': each entry must be a route table id",
        ),
    ],
)
def test_invalid_egress_settings_fail_with_key_value_and_allowed(overrides, expected):
    with pytest.raises(ProgramError) as error:
        render_program(
            REPO_ROOT, "production", {f"{PROJECT}:{key}": value for key, value in overrides.items()}
        )
    assert expected in str(error.value)


def egress_advisories(resources) -> list[str]:
    return [v.message for v in evaluate(resources, [egress_endpoints_complete]).violations]


def test_the_egress_rule_is_silent_on_both_shapes(production, endpoints_stack):
    assert egress_advisories(production.resources) == []  # nat: the NAT path is outside the stack
    assert egress_advisories(endpoints_stack.resources) == []


def test_the_egress_rule_names_an_api_left_without_an_endpoint(endpoints_stack):
    resources = [r for r in endpoints_stack.resources if r.name != "worker-endpoints-sqs"]
    [message] = egress_advisories(resources)
    assert "none for sqs" in message


def test_the_egress_rule_names_an_interface_endpoint_without_private_dns(endpoints_stack):
    resources = copy.deepcopy(endpoints_stack.resources)
    for resource in resources:
        if resource.name == "worker-endpoints-monitoring":
            resource.inputs["privateDnsEnabled"] = resource.outputs["privateDnsEnabled"] = False
    [message] = egress_advisories(resources)
    assert "monitoring interface endpoint worker-endpoints-monitoring has private DNS off" in message
