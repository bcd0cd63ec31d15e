"""Answers to the provider functions (data sources) a program calls during preview.

The real CLI runs invokes against the cloud even in preview. Offline, pure functions are computed
as the provider computes them (`aws:iam/getPolicyDocument` builds the policy JSON), lookups get
plausible, deterministic values of the right shape (the same arguments always give the same
answer), and anything else is unknown: `answer` returns None and the monitor marks every field of
the result unknown. Arguments are never echoed back as results.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

MOCK_ACCOUNT_ID = "123456789012"
MOCK_AMI_ID = "ami-0123456789abcdef0"
MOCK_VPC_ID = "vpc-0a1b2c3d4e5f60000"
MOCK_SUBNET_IDS = ("subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002")
MOCK_ZONE_COUNT = 3
AMI_PARAMETER_MARKERS = ("/ami", "ami-", "/ami-", "image_id", "image-id")


def digest(*parts: object, length: int = 17) -> str:
    """Deterministic hex that stands in for an id AWS would assign."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def function_name(token: str) -> str:
    """`aws:ec2/getAmi:getAmi` -> `getAmi`; tokens without a module part too."""
    return token.split(":")[-1]


def answer(token: str, args: dict[str, Any], region: str) -> dict[str, Any] | None:
    """The result of the provider function `token`, or None when it cannot be known offline."""
    package, _, rest = token.partition(":")
    if package != "aws":
        return None
    handler = _HANDLERS.get(rest.partition(":")[0])
    if handler is None:
        return None
    return handler(args, region)


# -- pure functions ---------------------------------------------------------------------------------


def policy_document(args: dict[str, Any], region: str) -> dict[str, Any]:
    """aws.iam.get_policy_document, as the provider renders it.

    The provider (terraform-provider-aws data source `aws_iam_policy_document`) writes Version,
    then Statement; per statement Sid, Effect, Action, NotAction, Resource, NotResource, Principal,
    NotPrincipal, Condition, each omitted when empty; a one-element list becomes a string and a
    longer one is sorted in reverse; `json` is indented by two spaces, `minifiedJson` is compact.
    Source and override documents merge by Sid. https://registry.terraform.io/providers/hashicorp/aws/latest/docs/data-sources/iam_policy_document
    """
    statements: list[dict[str, Any]] = []
    for source in args.get("sourcePolicyDocuments") or []:
        statements = _merge_statements(statements, json.loads(source).get("Statement") or [])
    own = [_statement(statement) for statement in args.get("statements") or []]
    statements = _merge_statements(statements, own)
    for override in args.get("overridePolicyDocuments") or []:
        statements = _merge_statements(statements, json.loads(override).get("Statement") or [])
    document: dict[str, Any] = {"Version": args.get("version") or "2012-10-17"}
    if args.get("policyId"):
        document = {"Version": document["Version"], "Id": args["policyId"]}
    document["Statement"] = statements
    return {
        "json": json.dumps(document, indent=2),
        "minifiedJson": json.dumps(document, separators=(",", ":")),
        "id": digest(document, length=10),
        "statements": args.get("statements"),
        "version": document["Version"],
    }


def _merge_statements(base: list[dict[str, Any]], extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged = list(base)
    for statement in extra:
        sid = statement.get("Sid")
        position = next((i for i, s in enumerate(merged) if sid and s.get("Sid") == sid), None)
        if position is None:
            merged.append(statement)
        else:
            merged[position] = statement
    return merged


def _statement(spec: dict[str, Any]) -> dict[str, Any]:
    statement: dict[str, Any] = {}
    if spec.get("sid"):
        statement["Sid"] = spec["sid"]
    statement["Effect"] = spec.get("effect") or "Allow"
    for source, target in (
        ("actions", "Action"),
        ("notActions", "NotAction"),
        ("resources", "Resource"),
        ("notResources", "NotResource"),
    ):
        if spec.get(source):
            statement[target] = _string_or_list(spec[source])
    for source, target in (("principals", "Principal"), ("notPrincipals", "NotPrincipal")):
        if spec.get(source):
            statement[target] = _principals(spec[source])
    if spec.get("conditions"):
        conditions: dict[str, dict[str, Any]] = {}
        for condition in spec["conditions"]:
            conditions.setdefault(condition["test"], {})[condition["variable"]] = _string_or_list(
                condition.get("values") or []
            )
        statement["Condition"] = conditions
    return statement


def _principals(principals: list[dict[str, Any]]) -> Any:
    if (
        len(principals) == 1
        and principals[0].get("type") == "*"
        and principals[0].get("identifiers") == ["*"]
    ):
        return "*"
    grouped: dict[str, list[str]] = {}
    for principal in principals:
        grouped.setdefault(principal["type"], []).extend(principal.get("identifiers") or [])
    return {kind: _string_or_list(identifiers) for kind, identifiers in grouped.items()}


def _string_or_list(values: list[str]) -> Any:
    unique = list(dict.fromkeys(values))
    return unique[0] if len(unique) == 1 else sorted(unique, reverse=True)


# -- lookups: plausible, deterministic values -------------------------------------------------------


def caller_identity(args: dict[str, Any], region: str) -> dict[str, Any]:
    return {
        "accountId": MOCK_ACCOUNT_ID,
        "arn": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:user/offline-preview",
        "userId": "AIDAOFFLINEPREVIEW",
        "id": MOCK_ACCOUNT_ID,
    }


def region_(args: dict[str, Any], region: str) -> dict[str, Any]:
    name = args.get("name") or args.get("region") or region
    return {
        "name": name,
        "region": name,
        "id": name,
        "endpoint": f"ec2.{name}.amazonaws.com",
        "description": name,
    }


def partition(args: dict[str, Any], region: str) -> dict[str, Any]:
    return {
        "partition": "aws",
        "dnsSuffix": "amazonaws.com",
        "reverseDnsPrefix": "com.amazonaws",
        "id": "aws",
    }


def availability_zones(args: dict[str, Any], region: str) -> dict[str, Any]:
    suffixes = "abcdef"[:MOCK_ZONE_COUNT]
    excluded = set(args.get("excludeNames") or [])
    names = [f"{region}{suffix}" for suffix in suffixes if f"{region}{suffix}" not in excluded]
    short = "".join(part[0] for part in region.split("-")[:-1]) + region.split("-")[-1]
    return {
        "names": names,
        "zoneIds": [f"{short}-az{position + 1}" for position in range(len(names))],
        "groupNames": [region] * len(names),
        "id": region,
        "state": args.get("state"),
    }


def availability_zone(args: dict[str, Any], region: str) -> dict[str, Any]:
    name = args.get("name") or f"{region}a"
    return {"name": name, "zoneId": f"{region}-az1", "region": region, "state": "available", "id": name}


def ami(args: dict[str, Any], region: str) -> dict[str, Any]:
    image_id = f"ami-{digest('ami', region, args.get('filters'), args.get('owners'))}"
    name = next(
        (
            value
            for f in args.get("filters") or []
            if f.get("name") == "name"
            for value in f.get("values") or []
        ),
        "offline-preview-image",
    ).replace("*", "2024.01.01")
    return {
        "id": image_id,
        "imageId": image_id,
        "arn": f"arn:aws:ec2:{region}::image/{image_id}",
        "name": name,
        "architecture": "x86_64",
        "rootDeviceName": "/dev/xvda",
        "rootDeviceType": "ebs",
        "virtualizationType": "hvm",
        "ownerId": (args.get("owners") or [MOCK_ACCOUNT_ID])[0],
        "state": "available",
        "blockDeviceMappings": [],
    }


def ami_ids(args: dict[str, Any], region: str) -> dict[str, Any]:
    return {"ids": [ami(args, region)["id"]], "id": region}


def vpc(args: dict[str, Any], region: str) -> dict[str, Any]:
    vpc_id = args.get("id") or (
        MOCK_VPC_ID if args.get("default") or not args.get("filters") else f"vpc-{digest(args)}"
    )
    return {
        "id": vpc_id,
        "arn": f"arn:aws:ec2:{region}:{MOCK_ACCOUNT_ID}:vpc/{vpc_id}",
        "cidrBlock": "10.0.0.0/16",
        "default": bool(args.get("default")),
        "ownerId": MOCK_ACCOUNT_ID,
        "mainRouteTableId": f"rtb-{digest(vpc_id)}",
        "enableDnsSupport": True,
        "enableDnsHostnames": True,
        "instanceTenancy": "default",
        "state": "available",
    }


def subnets(args: dict[str, Any], region: str) -> dict[str, Any]:
    return {"ids": list(MOCK_SUBNET_IDS), "id": region}


def subnet(args: dict[str, Any], region: str) -> dict[str, Any]:
    subnet_id = args.get("id") or MOCK_SUBNET_IDS[0]
    return {
        "id": subnet_id,
        "arn": f"arn:aws:ec2:{region}:{MOCK_ACCOUNT_ID}:subnet/{subnet_id}",
        "vpcId": args.get("vpcId") or MOCK_VPC_ID,
        "availabilityZone": f"{region}a",
        "availabilityZoneId": f"{region}-az1",
        "cidrBlock": "10.0.1.0/24",
        "ownerId": MOCK_ACCOUNT_ID,
        "state": "available",
    }


def route_tables(args: dict[str, Any], region: str) -> dict[str, Any]:
    """One route table per subnet named in an `association.subnet-id` filter (the private-subnet layout)."""
    subnet_ids = [
        value
        for spec in args.get("filters") or []
        if spec.get("name") == "association.subnet-id"
        for value in spec.get("values") or []
    ]
    return {"ids": [f"rtb-{digest(subnet_id)}" for subnet_id in subnet_ids or [region]], "id": region}


def security_group(args: dict[str, Any], region: str) -> dict[str, Any]:
    group_id = args.get("id") or f"sg-{digest(args)}"
    return {
        "id": group_id,
        "arn": f"arn:aws:ec2:{region}:{MOCK_ACCOUNT_ID}:security-group/{group_id}",
        "name": args.get("name") or "default",
        "vpcId": args.get("vpcId") or MOCK_VPC_ID,
        "description": "offline preview security group",
    }


def ssm_parameter(args: dict[str, Any], region: str) -> dict[str, Any] | None:
    """An SSM parameter by name: AMI parameters answer an AMI id (or the ECS JSON), others are unknown."""
    name = str(args.get("name") or "")
    lowered = name.lower()
    if not any(marker in lowered for marker in AMI_PARAMETER_MARKERS):
        return None
    image_id = f"ami-{digest('ssm', region, name)}"
    value = image_id
    if lowered.rstrip("/").endswith("/recommended"):
        value = json.dumps({"image_id": image_id, "image_name": "amzn2-ami-ecs-hvm-2.0.20240101-x86_64-ebs"})
    return {
        "id": name,
        "name": name,
        "arn": f"arn:aws:ssm:{region}:{MOCK_ACCOUNT_ID}:parameter/{name.lstrip('/')}",
        "type": "String",
        "value": value,
        "insecureValue": value,
        "version": 1,
        "withDecryption": args.get("withDecryption", True),
    }


def route53_zone(args: dict[str, Any], region: str) -> dict[str, Any] | None:
    name = args.get("name")
    zone_id = args.get("zoneId") or (f"Z{digest('zone', name, length=20).upper()}" if name else None)
    if zone_id is None:
        return None
    name = (name or f"zone-{zone_id.lower()}.example.com").rstrip(".")
    return {
        "id": zone_id,
        "zoneId": zone_id,
        "name": name,
        "arn": f"arn:aws:route53:::hostedzone/{zone_id}",
        "privateZone": bool(args.get("privateZone")),
        "nameServers": [f"ns-{n}.awsdns-{n:02d}.org" for n in range(1, 5)],
        "callerReference": digest(zone_id),
        "resourceRecordSetCount": 2,
        "comment": "",
    }


def acm_certificate(args: dict[str, Any], region: str) -> dict[str, Any] | None:
    domain = args.get("domain")
    if not domain:
        return None
    uuid = digest("acm", domain, length=32)
    certificate_id = f"{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:32]}"
    return {
        "id": f"arn:aws:acm:{region}:{MOCK_ACCOUNT_ID}:certificate/{certificate_id}",
        "arn": f"arn:aws:acm:{region}:{MOCK_ACCOUNT_ID}:certificate/{certificate_id}",
        "domain": domain,
        "status": "ISSUED",
        "statuses": args.get("statuses"),
        "types": args.get("types"),
        "keyTypes": args.get("keyTypes"),
        "tags": {},
    }


def iam_named(kind: str) -> Callable[[dict[str, Any], str], dict[str, Any] | None]:
    """getRole / getPolicy / getUser by name: the ARN IAM derives from the name."""

    def lookup(args: dict[str, Any], region: str) -> dict[str, Any] | None:
        if args.get("arn"):
            return {"arn": args["arn"], "id": args["arn"], "name": args["arn"].rsplit("/", 1)[-1]}
        name = args.get("name") or args.get("userName") or args.get("roleName")
        if not name:
            return None
        owner = "aws" if kind == "policy" and name.startswith("AWS") else MOCK_ACCOUNT_ID
        arn = f"arn:aws:iam::{owner}:{kind}/{name}"
        return {
            "arn": arn,
            "id": name,
            "name": name,
            "path": "/",
            "uniqueId": f"AROA{digest(arn, length=17).upper()}",
        }

    return lookup


def service_principal(args: dict[str, Any], region: str) -> dict[str, Any]:
    service = args.get("serviceName", "")
    name = f"{service}.amazonaws.com"
    return {"id": name, "name": name, "suffix": "amazonaws.com", "region": args.get("region") or region}


def kms_alias(args: dict[str, Any], region: str) -> dict[str, Any] | None:
    name = args.get("name")
    if not name:
        return None
    key = digest("kms", name, length=32)
    key_id = f"{key[:8]}-{key[8:12]}-{key[12:16]}-{key[16:20]}-{key[20:32]}"
    return {
        "id": f"arn:aws:kms:{region}:{MOCK_ACCOUNT_ID}:{name}",
        "arn": f"arn:aws:kms:{region}:{MOCK_ACCOUNT_ID}:{name}",
        "name": name,
        "targetKeyId": key_id,
        "targetKeyArn": f"arn:aws:kms:{region}:{MOCK_ACCOUNT_ID}:key/{key_id}",
    }


_HANDLERS: dict[str, Callable[[dict[str, Any], str], dict[str, Any] | None]] = {
    "iam/getPolicyDocument": policy_document,
    "index/getCallerIdentity": caller_identity,
    "index/getRegion": region_,
    "index/getPartition": partition,
    "index/getAvailabilityZones": availability_zones,
    "index/getAvailabilityZone": availability_zone,
    "index/getServicePrincipal": service_principal,
    "ec2/getAmi": ami,
    "ec2/getAmiIds": ami_ids,
    "ec2/getVpc": vpc,
    "ec2/getSubnets": subnets,
    "ec2/getSubnet": subnet,
    "ec2/getSecurityGroup": security_group,
    "ec2/getRouteTables": route_tables,
    "ssm/getParameter": ssm_parameter,
    "route53/getZone": route53_zone,
    "acm/getCertificate": acm_certificate,
    "iam/getRole": iam_named("role"),
    "iam/getPolicy": iam_named("policy"),
    "iam/getUser": iam_named("user"),
    "kms/getAlias": kms_alias,
}
