"""Pulumi mocks that stand in for AWS during a preview: what the provider derives is known, the rest unknown.

The engine's preview semantics: a new resource's outputs are its inputs (as the provider planned
them) plus whatever the provider computes; what AWS derives deterministically from the inputs
(ARNs, queue URLs, bucket domain names, ids that are names) is filled in here, and every other
computed output is left out, so the SDK resolves it as unknown, as `pulumi preview` shows
`output<string>`. The monitor records what the SDK's mock monitor drops: parents, dependencies,
inputs as sent, and which values are secret.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from preview import data_sources
from preview.callbacks import scrub
from preview.data_sources import MOCK_ACCOUNT_ID, MOCK_AMI_ID, MOCK_SUBNET_IDS, MOCK_VPC_ID
from preview.output_types import check_inputs, declared_output_types, typed_outputs
from preview.transforms import TransformRunner
from preview.values import SECRET_SHOWN, UNKNOWN, contains_unknown, is_unknown, plain_properties, wrap_secret

__all__ = [
    "MOCK_ACCOUNT_ID",
    "MOCK_AMI_ID",
    "MOCK_SUBNET_IDS",
    "MOCK_VPC_ID",
    "CloudMocks",
    "RecordedResource",
    "RecordingMonitor",
]

STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"
_PLAIN_INVOKE: contextvars.ContextVar[bool] = contextvars.ContextVar("preview_plain_invoke", default=False)
S3_HOSTED_ZONE_IDS = {
    # Amazon S3 website endpoints' hosted zone ids: https://docs.aws.amazon.com/general/latest/gr/s3.html
    "us-east-1": "Z3AQBSTGFYJSTF",
    "us-east-2": "Z2O1EMRO9K5GLX",
    "us-west-1": "Z2F56UZL2M1ACD",
    "us-west-2": "Z3BJ6K6RIION7M",
    "eu-west-1": "Z1BKCTXD74EZPE",
    "eu-central-1": "Z21DNDUVLTQW6Q",
    "ap-northeast-1": "Z2M4EHUR26P7ZW",
    "ap-southeast-1": "Z3O0J2DXBE1FTB",
    "ap-southeast-2": "Z1WCIGYICN2BYD",
}
CLOUDFRONT_HOSTED_ZONE_ID = "Z2FDTNDATAQYW2"  # every CloudFront distribution's alias target zone
SERVICE_ARNS: dict[tuple[str, str], tuple[str, str | None]] = {
    # (module, kind) -> (ARN service, resource part); None: the ARN holds a part AWS assigns (unknown).
    # Formats: https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
    ("cloudwatch", "EventRule"): ("events", "rule/{name}"),
    ("cloudwatch", "EventBus"): ("events", "event-bus/{name}"),
    ("cloudwatch", "MetricAlarm"): ("cloudwatch", "alarm:{name}"),
    ("kinesis", "Stream"): ("kinesis", "stream/{name}"),
    ("kinesis", "FirehoseDeliveryStream"): ("firehose", "deliverystream/{name}"),
    ("ecr", "Repository"): ("ecr", "repository/{name}"),
    ("sfn", "StateMachine"): ("states", "stateMachine:{name}"),
    ("sfn", "Activity"): ("states", "activity:{name}"),
    ("rds", "Instance"): ("rds", "db:{name}"),
    ("rds", "Cluster"): ("rds", "cluster:{name}"),
    ("redshift", "Cluster"): ("redshift", "cluster:{name}"),
    ("glue", "Crawler"): ("glue", "crawler/{name}"),
    ("glue", "Job"): ("glue", "job/{name}"),
    ("glue", "CatalogDatabase"): ("glue", "database/{name}"),
    ("ecs", "TaskDefinition"): ("ecs", None),  # task-definition/<family>:<revision>, the revision AWS assigns
}
"""ARNs whose resource part is not just the name (the generic `arn:aws:<module>:<region>:<account>:<name>`)."""
IDENTIFIER_INPUTS = {
    ("rds", "Instance"): "identifier",
    ("rds", "Cluster"): "clusterIdentifier",
    ("redshift", "Cluster"): "clusterIdentifier",
}
RANDOM_ID_MODULES = (
    "ec2", "acm", "cloudfront", "apigateway", "apigatewayv2", "route53", "lb", "alb", "efs", "secretsmanager",
)  # fmt: skip
"""Services whose ARNs embed an id AWS assigns at creation (vpc-..., a certificate UUID, ...): unknown in preview."""


_SIG_KEY = rpc._special_sig_key  # noqa: SLF001 - the wire format's own constants
_RESOURCE_SIG = rpc._special_resource_sig  # noqa: SLF001


def _deserialize(struct: struct_pb2.Struct, keep_unknowns: bool = True) -> dict[str, Any]:
    """Properties off the wire, with resource references as a provider that does not accept them gets them.

    A program may pass a resource itself as an input (`vpc_id=vpc`). The SDK sends it as a resource
    reference; the engine gives a provider that does not accept references (the bridged AWS provider)
    the custom resource's id, or a component's URN. Deserialized as is, the reference would become a
    rehydrated Python resource object, shown as `<pulumi_aws.ec2.vpc.Vpc object at 0x...>`.
    """
    copy = struct_pb2.Struct()
    copy.CopyFrom(struct)
    for value in copy.fields.values():
        _references_as_ids(value)
    return rpc.deserialize_properties(copy, keep_unknowns=keep_unknowns)


def _references_as_ids(value: struct_pb2.Value) -> None:
    kind = value.WhichOneof("kind")
    if kind == "list_value":
        for item in value.list_value.values:
            _references_as_ids(item)
    elif kind == "struct_value":
        fields = value.struct_value.fields
        if _SIG_KEY in fields and fields[_SIG_KEY].string_value == _RESOURCE_SIG:
            reference = fields["id"].string_value if "id" in fields else fields["urn"].string_value
            value.string_value = reference if reference or "id" not in fields else UNKNOWN
            return
        for item in fields.values():
            _references_as_ids(item)


@dataclass
class RecordedResource:
    """One registered resource, as `pulumi preview` would show it.

    Unknown values are the engine's sentinel string; `secret_inputs` / `secret_outputs` hold the
    dotted paths of secret values (shown as `[secret]`, kept plain here for the policy gate).
    """

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
    secret_inputs: set[str] = field(default_factory=set)
    secret_outputs: set[str] = field(default_factory=set)
    unknown_from: dict[str, str] = field(default_factory=dict)
    """Property paths unknown because an `apply` callback failed on plausible values: path -> why."""
    source_position: tuple[str, int] | None = None
    """(file URI, line) of the program code that declared it, as the SDK sends it to the engine."""

    @classmethod
    def from_properties(
        cls, type_: str, name: str, props: dict[str, Any], stack: str = "local"
    ) -> RecordedResource:
        """A resource whose inputs and outputs are the same properties: synthetic stacks, live state."""
        urn = f"urn:pulumi:{stack}::{stack}::{type_}::{name}"
        return cls(type_, name, urn, None, True, False, dict(props), dict(props))


class CloudMocks(pulumi.runtime.Mocks):
    """Provider outputs AWS derives from the inputs; data sources from `preview.data_sources`.

    `stack_references` maps a stack reference name to its outputs (from `--stack-reference`);
    a reference not listed has unknown outputs, as for a stack the preview cannot read.
    """

    def __init__(
        self, region: str, stack_references: dict[str, dict[str, Any]] | None = None, plausible: bool = True
    ) -> None:
        self.region = region
        self.stack_references = stack_references or {}
        self.plausible = plausible
        """False: the engine's preview semantics, a created resource's computed outputs unknown."""
        self.provider_regions: dict[str, str] = {}
        """Explicit providers ("urn::id", as resources reference them) with their own region."""

    def region_of(self, provider: str | None) -> str:
        return self.provider_regions.get(provider or "", self.region)

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        if args.typ == STACK_REFERENCE_TYPE:
            return self._stack_reference(args)
        if not args.custom and args.custom is not None:
            return "", {}
        outputs = dict(args.inputs)
        read_id = args.resource_id if isinstance(args.resource_id, str) and args.resource_id else None
        if read_id is None and not self.plausible and not args.typ.startswith("pulumi:providers:"):
            return "", typed_outputs(args.typ, self._planned(args.typ, args.name, outputs))
        if not args.typ.startswith("aws:"):
            return read_id or f"{args.name}-id", typed_outputs(args.typ, outputs)
        region = self.region_of(args.provider)
        if read_id is not None:
            resource_id, state = self._read(args.typ, args.name, read_id, outputs, region)
            return resource_id, typed_outputs(args.typ, state)
        resource_id, derived = self._derived(args.typ, args.name, args.inputs, region)
        for key, value in derived.items():
            outputs.setdefault(key, value)
        return resource_id, typed_outputs(args.typ, outputs)

    def _planned(self, typ: str, logical: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """A resource being created as the engine plans it: its inputs, and the name the provider's
        check assigns when the program gave none (auto-naming); everything the provider computes
        (ARNs, ids, URLs, defaults) is left out, so the SDK resolves it unknown."""
        declared = declared_output_types(typ)
        planned = dict(inputs)
        if typ.startswith("aws:"):
            name_key = "bucket" if typ.startswith("aws:s3/bucket:") else "name"
            if name_key in declared and name_key not in planned and "namePrefix" not in planned:
                planned[name_key] = self._derived(typ, logical, inputs, self.region)[1].get("name", logical)
        return planned

    def _derived(
        self, typ: str, logical: str, inputs: dict[str, Any], region: str
    ) -> tuple[str, dict[str, Any]]:
        """The id and the outputs AWS computes from the inputs alone, for the resource type `typ`."""
        module = typ.split(":")[1].split("/")[0]
        kind = typ.split(":")[-1]
        account = MOCK_ACCOUNT_ID
        physical = inputs.get("name") or inputs.get("bucket") or logical
        if kind == "Queue" and not inputs.get("name") and inputs.get("fifoQueue"):
            physical = f"{logical}.fifo"
        known = not is_unknown(physical)
        derivable = known and module not in RANDOM_ID_MODULES
        arn = f"arn:aws:{module}:{region}:{account}:{physical}" if derivable else UNKNOWN
        resource_id = f"{logical}-id"
        out: dict[str, Any] = {}
        if kind == "Queue":
            url = f"https://sqs.{region}.amazonaws.com/{account}/{physical}" if known else UNKNOWN
            out.update(url=url, name=physical, visibilityTimeoutSeconds=30)
            out.update(messageRetentionSeconds=345600, receiveWaitTimeSeconds=0)
            resource_id = url
        elif module == "s3" and kind in ("Bucket", "BucketV2"):
            arn = f"arn:aws:s3:::{physical}" if known else UNKNOWN
            out.update(bucket=physical, region=region)
            if known:
                out.update(
                    bucketDomainName=f"{physical}.s3.amazonaws.com",
                    bucketRegionalDomainName=f"{physical}.s3.{region}.amazonaws.com",
                )
                if region in S3_HOSTED_ZONE_IDS:
                    out["hostedZoneId"] = S3_HOSTED_ZONE_IDS[region]
            resource_id = physical
        elif module == "s3" and kind.startswith("BucketWebsiteConfiguration"):
            bucket = inputs.get("bucket")
            if bucket and not is_unknown(bucket):
                out.update(
                    websiteEndpoint=f"{bucket}.s3-website-{region}.amazonaws.com",
                    websiteDomain=f"s3-website-{region}.amazonaws.com",
                )
        elif module == "iam" and kind in ("Role", "Policy", "User", "Group", "InstanceProfile"):
            path = inputs.get("path") or "/"
            resource = re.sub(r"(?<!^)(?=[A-Z])", "-", kind).lower()
            arn = f"arn:aws:iam::{account}:{resource}{path}{physical}" if known else UNKNOWN
            resource_id = physical if known else resource_id
        elif module == "lambda" and kind == "Function":
            arn = f"arn:aws:lambda:{region}:{account}:function:{physical}" if known else UNKNOWN
            if known:
                out.update(
                    invokeArn=f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations",
                    qualifiedArn=f"{arn}:$LATEST",
                    version="$LATEST",
                )
            resource_id = physical if known else resource_id
        elif module == "sns" and kind == "Topic":
            resource_id = arn
        elif module == "cloudwatch" and kind == "LogGroup":
            arn = f"arn:aws:logs:{region}:{account}:log-group:{physical}" if known else UNKNOWN
            resource_id = physical if known else resource_id
        elif module == "ecs" and kind in ("Cluster", "Service"):
            arn = f"arn:aws:ecs:{region}:{account}:{kind.lower()}/{physical}" if known else UNKNOWN
        elif module == "dynamodb" and kind == "Table":
            arn = f"arn:aws:dynamodb:{region}:{account}:table/{physical}" if known else UNKNOWN
            resource_id = physical if known else resource_id
        elif module == "ec2" and kind == "LaunchTemplate":
            resource_id = f"lt-{physical}"
            out.update(latestVersion=1, defaultVersion=1)
        elif module == "cloudfront" and kind == "Distribution":
            out["hostedZoneId"] = CLOUDFRONT_HOSTED_ZONE_ID
        elif (module, kind) in SERVICE_ARNS:
            service, resource_format = SERVICE_ARNS[(module, kind)]
            own = inputs.get(IDENTIFIER_INPUTS.get((module, kind), "name")) or logical
            bus = inputs.get("eventBusName")
            if kind == "EventRule" and bus and bus != "default":
                own = f"{bus}/{own}"
            arn = UNKNOWN
            if resource_format is not None and not contains_unknown([own, bus]):
                arn = f"arn:aws:{service}:{region}:{account}:{resource_format.format(name=own)}"
                if kind == "StateMachine":
                    resource_id = arn
            if kind == "Repository" and module == "ecr" and not is_unknown(own):
                out["repositoryUrl"] = f"{account}.dkr.ecr.{region}.amazonaws.com/{own}"
                out["registryId"] = account
        out.setdefault("name", physical)
        out.setdefault("arn", arn)
        out.setdefault("id", resource_id)
        return resource_id, out

    def _read(
        self, typ: str, logical: str, read_id: str, state: dict[str, Any], region: str
    ) -> tuple[str, dict[str, Any]]:
        """An existing resource read by id (`aws.s3.Bucket.get("b", "acme-uploads")`, an import).

        The id is known and names the resource: a bucket, role, function, table or log group is
        its name, a queue its URL (region, account and name in it), a topic or policy its ARN.
        What else derives from the name is derived from the id, not from the logical name.
        """
        kind = typ.split(":")[-1]
        named = dict(state)
        queue_url = re.fullmatch(r"https://sqs\.([a-z0-9-]+)\.amazonaws\.com/(\d{12})/([^/]+)", read_id)
        if read_id.startswith("arn:"):
            named.setdefault("arn", read_id)
            name = re.split(r"[:/]", read_id)[-1]
        elif kind == "Queue" and queue_url:
            region, account, name = queue_url.groups()
            named.setdefault("url", read_id)
            named.setdefault("arn", f"arn:aws:sqs:{region}:{account}:{name}")
        else:
            name = read_id
        key = "bucket" if typ.startswith("aws:s3/bucket") and kind in ("Bucket", "BucketV2") else "name"
        named.setdefault(key, name)
        _, derived = self._derived(typ, logical, named, region)
        for key, value in derived.items():
            named.setdefault(key, value)
        named["id"] = read_id
        return read_id, named

    def _stack_reference(self, args: MockResourceArgs) -> tuple[str, dict]:
        name = str(args.inputs.get("name") or args.resource_id or args.name)
        if name not in self.stack_references:
            return name, {"name": name}  # outputs and secretOutputNames unknown
        # `pulumi stack output --json` prints secrets as "[secret]": they stay secret, with that text as value
        # (an unknown inside `outputs` would make every output of the reference unknown).
        outputs = self.stack_references[name]
        secret_names = [key for key, value in outputs.items() if value == SECRET_SHOWN]
        return name, {"name": name, "outputs": dict(outputs), "secretOutputNames": secret_names}

    def call(self, args: MockCallArgs) -> dict | None:
        """A data source's result; None when it cannot be known offline (every field then unknown)."""
        return data_sources.answer(args.token, args.args, self.region_of(args.provider))


class RecordingMonitor(MockMonitor):
    """The SDK's mock monitor with preview semantics, recording every registration.

    Inputs reach the mocks plain (secrets unwrapped, unknowns as the sentinel); what a mock returns
    stays secret where its input was. Invokes the mocks cannot answer come back all-unknown.
    """

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.recorded: dict[str, RecordedResource] = {}
        self.reads: dict[str, RecordedResource] = {}
        self.unanswered: set[str] = set()
        """Data sources without an offline answer (their results are unknown)."""
        self.transforms = TransformRunner()

    def RegisterStackTransform(self, request):  # noqa: N802 (gRPC method name)
        self.transforms.register_stack(request)
        return super().RegisterStackTransform(request)

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == "pulumi:pulumi:Stack":
            self.recorded[urn] = RecordedResource(request.type, request.name, urn, None, False, False, {}, {})
            return resource_pb2.RegisterResourceResponse(urn=urn)
        _ensure_event_loop()
        self.transforms.transformed(request, urn)
        raw = _deserialize(request.object, keep_unknowns=True)
        failed_paths: dict[str, str] = {}
        inputs, secret_inputs = plain_properties(scrub(raw, "", failed_paths))
        if request.custom:
            where = request.sourcePosition if request.HasField("sourcePosition") else None
            check_inputs(request.type, request.name, inputs, (where.uri, where.line) if where else None)
        resource_args = MockResourceArgs(
            typ=request.type,
            name=request.name,
            inputs=inputs,
            provider=request.provider,
            resource_id=request.importId,
            custom=request.custom or False,
        )
        resource_id, state = self.mocks.new_resource(resource_args)
        if request.type == "pulumi:providers:aws" and isinstance(self.mocks, CloudMocks):
            region = inputs.get("region")
            if isinstance(region, str) and not is_unknown(region):
                self.mocks.provider_regions[f"{urn}::{resource_id}"] = region
        outputs, secret_outputs = plain_properties(state or {})
        secret_keys = {path.split(".")[0] for path in secret_inputs | secret_outputs}
        secret_keys |= set(request.additionalSecretOutputs)
        wire = {key: wrap_secret(value) if key in secret_keys else value for key, value in outputs.items()}
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, resource_id or "", outputs)
        self.recorded[urn] = RecordedResource(
            type=request.type,
            name=request.name,
            urn=urn,
            parent=request.parent or None,
            custom=bool(request.custom),
            protect=bool(request.protect),
            inputs=inputs,
            outputs=outputs if request.custom else {},
            dependencies=list(request.dependencies),
            property_dependencies={
                key: list(deps.urns) for key, deps in request.propertyDependencies.items()
            },
            secret_inputs=secret_inputs,
            secret_outputs=(secret_outputs | (secret_keys & set(outputs))) if request.custom else set(),
            unknown_from=failed_paths,
            source_position=(
                (request.sourcePosition.uri, request.sourcePosition.line)
                if request.HasField("sourcePosition")
                else None
            ),
        )
        object_proto = _sync_await(rpc.serialize_properties(wire, {}))
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id or "", object=object_proto)

    def ReadResource(self, request):  # noqa: N802 (gRPC method name)
        _ensure_event_loop()
        state, _ = plain_properties(_deserialize(request.properties, keep_unknowns=True))
        resource_args = MockResourceArgs(
            typ=request.type,
            name=request.name,
            inputs=state,
            provider=request.provider,
            resource_id=request.id,
        )
        resource_id, outputs = self.mocks.new_resource(resource_args)
        outputs, secrets = plain_properties(outputs or {})
        secret_names = (
            set(outputs.get("secretOutputNames") or []) if request.type == STACK_REFERENCE_TYPE else set()
        )
        wire = dict(outputs)
        if secret_names and isinstance(outputs.get("outputs"), dict):
            wire["outputs"] = {
                key: wrap_secret(value) if key in secret_names else value
                for key, value in outputs["outputs"].items()
            }
        urn = self.make_urn(request.parent, request.type, request.name)
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, resource_id or "", outputs)
        self.reads[urn] = RecordedResource(
            request.type, request.name, urn, request.parent or None, True, False, state, outputs,
            secret_outputs=secrets | {f"outputs.{key}" for key in secret_names},
        )  # fmt: skip
        properties = _sync_await(rpc.serialize_properties(wire, {}))
        return resource_pb2.ReadResourceResponse(urn=urn, properties=properties, id=resource_id or "")

    def RegisterResourceOutputs(self, request):  # noqa: N802 (gRPC method name)
        recorded = self.recorded.get(request.urn)
        if recorded is not None and not recorded.custom:
            raw = _deserialize(request.outputs, keep_unknowns=True) if request.outputs else {}
            raw = scrub(raw, "", recorded.unknown_from)
            recorded.outputs, recorded.secret_outputs = plain_properties(raw)
        return empty_pb2.Empty()

    def Invoke(self, request):  # noqa: N802 (gRPC method name)
        if request.tok == "pulumi:pulumi:getResource":
            return super().Invoke(request)
        _ensure_event_loop()
        failed: dict[str, str] = {}
        args, _ = plain_properties(scrub(_deserialize(request.args, keep_unknowns=True), "", failed))
        # An argument a failed callback left unknown: no answer, as the SDK skips an invoke on unknowns.
        result = None if failed else self.mocks.call(MockCallArgs(request.tok, args, request.provider))
        if isinstance(result, tuple):
            result = result[0]
        if result is None:
            self.unanswered.add(request.tok)
            if not _PLAIN_INVOKE.get():
                # The output form (get_x_output): the whole result unknown, as the engine answers an
                # invoke it cannot serve yet.
                return resource_pb2.ResourceInvokeResponse(unknown=True)
            # The plain form (get_x) has no way to carry an unknown into Python values (the result
            # types reject anything but real values): every field is None, never an argument echoed.
            result = {}
        return_proto = _sync_await(rpc.serialize_properties(result, {}))
        return resource_pb2.ResourceInvokeResponse(failures=None, **{"return": return_proto})


@contextlib.contextmanager
def plain_invokes_marked() -> Iterator[None]:
    """Mark invokes made through `pulumi.runtime.invoke` (the plain `get_x` form) for the monitor.

    The monitor runs in an executor thread with the caller's context, so a context variable set
    around the SDK's plain `invoke` tells it which form asked.
    """
    original = pulumi.runtime.invoke

    def plain_invoke(*args: Any, **kwargs: Any) -> Any:
        token = _PLAIN_INVOKE.set(True)
        try:
            return original(*args, **kwargs)
        finally:
            _PLAIN_INVOKE.reset(token)

    pulumi.runtime.invoke = plain_invoke
    try:
        yield
    finally:
        pulumi.runtime.invoke = original
