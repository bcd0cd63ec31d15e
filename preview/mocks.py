"""Pulumi mocks that stand in for AWS: they compute what the provider would (ARNs, URLs, ids).

With them, values derived from those outputs are known, as after `pulumi up`, so the policy gate
judges the same documents the real deployment would contain. The monitor also records what the
mock monitor of the SDK drops: parents, dependencies and the inputs as sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

MOCK_ACCOUNT_ID = "123456789012"
MOCK_AMI_ID = "ami-0123456789abcdef0"
MOCK_SUBNET_IDS = ("subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002")
MOCK_VPC_ID = "vpc-0a1b2c3d4e5f60000"


@dataclass
class RecordedResource:
    """One registered resource, as `pulumi preview` would show it."""

    type: str
    name: str
    urn: str
    parent: str | None
    custom: bool
    protect: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_properties(
        cls, type_: str, name: str, props: dict[str, Any], stack: str = "local"
    ) -> RecordedResource:
        """A resource whose inputs and outputs are the same properties: synthetic stacks, live state."""
        urn = f"urn:pulumi:{stack}::{stack}::{type_}::{name}"
        return cls(type_, name, urn, None, True, False, dict(props), dict(props))


class CloudMocks(pulumi.runtime.Mocks):
    """Fill in the provider-computed outputs of the AWS resources this project and its tests use."""

    def __init__(self, region: str) -> None:
        self.region = region

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        service = args.typ.split(":")[1].split("/")[0] if args.typ.count(":") >= 2 else "unknown"
        kind = args.typ.split(":")[-1]
        physical_name = args.inputs.get("name") or args.inputs.get("bucket") or args.name
        outputs = dict(args.inputs)
        resource_id = f"{args.name}-id"
        arn = f"arn:aws:{service}:{self.region}:{MOCK_ACCOUNT_ID}:{physical_name}"
        if kind == "Queue":
            url = f"https://sqs.{self.region}.amazonaws.com/{MOCK_ACCOUNT_ID}/{physical_name}"
            outputs.update(url=url, name=physical_name)
            resource_id = url
            outputs.setdefault("visibilityTimeoutSeconds", 30)
            outputs.setdefault("messageRetentionSeconds", 345600)
            outputs.setdefault("receiveWaitTimeSeconds", 0)
        elif kind == "Bucket":
            arn = f"arn:aws:s3:::{physical_name}"
            outputs.update(bucket=physical_name, bucketDomainName=f"{physical_name}.s3.amazonaws.com")
            resource_id = physical_name
        elif service == "iam":
            arn = f"arn:aws:iam::{MOCK_ACCOUNT_ID}:{kind[0].lower() + kind[1:]}/{physical_name}"
        elif kind == "LaunchTemplate":
            resource_id = f"lt-{physical_name}"
            outputs.update(latestVersion=1, defaultVersion=1)
        elif kind == "Topic":
            resource_id = arn
        outputs.setdefault("name", physical_name)
        outputs.setdefault("arn", arn)
        outputs.setdefault("id", resource_id)
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        function = args.token.split(":")[-1]
        if function == "getCallerIdentity":
            return {
                "accountId": MOCK_ACCOUNT_ID,
                "arn": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:user/offline-preview",
                "userId": "AIDAOFFLINEPREVIEW",
                "id": MOCK_ACCOUNT_ID,
            }
        if function == "getRegion":
            return {"name": self.region, "region": self.region, "id": self.region}
        if function == "getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        if function == "getParameter":
            return {**args.args, "value": MOCK_AMI_ID, "insecureValue": MOCK_AMI_ID, "type": "String"}
        if function == "getSubnets":
            return {**args.args, "ids": [MOCK_SUBNET_IDS[0], MOCK_SUBNET_IDS[1]], "id": self.region}
        if function == "getSubnet":
            return {**args.args, "vpcId": MOCK_VPC_ID, "availabilityZone": f"{self.region}a"}
        if function == "getAmi":
            return {**args.args, "id": MOCK_AMI_ID, "imageId": MOCK_AMI_ID}
        return dict(args.args)


class RecordingMonitor(MockMonitor):
    """The SDK's mock monitor, plus a record of every registration with parent and dependencies."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.recorded: dict[str, RecordedResource] = {}

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        urn = self.make_urn(request.parent, request.type, request.name)
        registration = self.resources.get(urn)
        inputs = rpc.deserialize_properties(request.object) if request.type != "pulumi:pulumi:Stack" else {}
        self.recorded[urn] = RecordedResource(
            type=request.type,
            name=request.name,
            urn=urn,
            parent=request.parent or None,
            custom=bool(request.custom),
            protect=bool(request.protect),
            inputs=inputs,
            outputs=dict(registration.state) if registration and request.custom else {},
            dependencies=list(request.dependencies),
            property_dependencies={
                key: list(deps.urns) for key, deps in request.propertyDependencies.items()
            },
        )
        return response

    def RegisterResourceOutputs(self, request):  # noqa: N802 (gRPC method name)
        recorded = self.recorded.get(request.urn)
        if recorded is not None and not recorded.custom:
            recorded.outputs = rpc.deserialize_properties(request.outputs) if request.outputs else {}
        return super().RegisterResourceOutputs(request)
