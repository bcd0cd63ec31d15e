"""S3 security: buckets keep Block Public Access on and refuse plain HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import EnforcementLevel, StackValidationPolicy

from ..analysis.model import StackIndex
from ..analysis.types import BUCKET_POLICY, PUBLIC_ACCESS_BLOCK
from ..analysis.values import is_unknown, json_document, peek, statements
from .common import Finding, Settings, stack_validator

PUBLIC_ACCESS_SETTINGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def bucket_names(bucket: Any) -> list[Any]:
    return [peek(bucket.props, "bucket"), peek(bucket.props, "id"), bucket.name]


def bucket_label(bucket: Any) -> str:
    name = peek(bucket.props, "bucket")
    return str(name) if isinstance(name, str) and not is_unknown(name) else bucket.name


S3_BPA_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html"


def _public_access_blocked(index: StackIndex, settings: Settings) -> Iterator[Finding]:
    """Block Public Access settings set to false let public ACLs and policies apply
    (access-control-block-public-access.html). A bucket without a block gets all four on by default since
    April 2023 (see `aws-secure-defaults-relied-on`); only turning them off is judged here."""
    for bucket in index.buckets:
        for block in index.attached(PUBLIC_ACCESS_BLOCK, bucket_names(bucket), bucket.urn):
            off = [
                key
                for key in PUBLIC_ACCESS_SETTINGS
                if peek(block.props, key) is not True and not is_unknown(peek(block.props, key))
            ]
            if off:
                yield (
                    f"bucket {bucket_label(bucket)}: public access block {block.name} leaves {', '.join(off)} "
                    "off, so a public ACL or bucket policy on it takes effect and its objects can be read by "
                    "anyone. Set all four settings True.",
                    block.urn,
                )


s3_public_access_blocked = StackValidationPolicy(
    name="s3-public-access-blocked",
    description="No S3 bucket turns Block Public Access settings off. Fix: set all four settings of its "
    "aws.s3.BucketPublicAccessBlock True.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=stack_validator(_public_access_blocked),
    remediation_steps="Set blockPublicAcls, blockPublicPolicy, ignorePublicAcls and restrictPublicBuckets True.",
    url=S3_BPA_DOC,
)


S3_TLS_DOC = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html"


def denies_insecure_transport(document: Any) -> bool:
    for statement in statements(document):
        condition = statement.get("Condition") or {}
        secure = (condition.get("Bool") or {}).get("aws:SecureTransport")
        if statement.get("Effect") == "Deny" and str(secure).lower() == "false":
            return True
    return False


def _tls_only(index: StackIndex, settings: Settings) -> Iterator[Finding]:
    """S3 accepts plain HTTP unless a bucket policy denies aws:SecureTransport=false; AWS's default has not
    changed, so this stays mandatory (security-best-practices.html, "Enforce encryption of data in transit")."""
    for bucket in index.buckets:
        policies = index.attached(BUCKET_POLICY, bucket_names(bucket), bucket.urn)
        documents = [peek(policy.props, "policy") for policy in policies] + [peek(bucket.props, "policy")]
        if any(is_unknown(document) for document in documents):
            continue  # a policy exists whose text is not known yet: cannot decide
        if not any(document and denies_insecure_transport(json_document(document)) for document in documents):
            yield (
                f"bucket {bucket_label(bucket)} accepts plain-HTTP requests (S3's default), so its objects and "
                "credentials can cross the network unencrypted. Add a bucket policy statement that denies s3:* "
                'when {"Bool": {"aws:SecureTransport": "false"}}.',
                bucket.urn,
            )


s3_tls_only = StackValidationPolicy(
    name="s3-tls-only",
    description="Every S3 bucket refuses plain HTTP. Fix: add a bucket policy statement denying s3:* when "
    "aws:SecureTransport is false.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=stack_validator(_tls_only),
    remediation_steps='Add an aws.s3.BucketPolicy statement: Effect Deny, Principal "*", Action s3:*, Resource the '
    'bucket and bucket/*, Condition {"Bool": {"aws:SecureTransport": "false"}}.',
    url=S3_TLS_DOC,
)

S3_SECURITY_POLICIES = [s3_public_access_blocked, s3_tls_only]
