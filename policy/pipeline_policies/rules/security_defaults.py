"""Settings a program leaves to AWS's defaults where the default is secure for new resources only: noted."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import EnforcementLevel, StackValidationPolicy

from ..analysis.model import StackIndex
from ..analysis.types import PUBLIC_ACCESS_BLOCK
from .common import Finding, Settings, stack_validator
from .security_s3 import S3_BPA_DOC, bucket_label, bucket_names

# --- settings left to AWS's defaults, which are now secure ---------------------------------------------

SECURE_DEFAULTS = {
    "sqs": "SSE-SQS is on by default for queues created since October 2022 (SQS announcement, 2022-10); a queue "
    "created earlier and adopted into the stack keeps no encryption",
    "s3-public-access": "S3 turns all four Block Public Access settings on (and ACLs off) for every new bucket "
    "since April 2023",
}
S3_DEFAULT_ENCRYPTION_DOC = (
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/default-encryption-faq.html"
)


def _secure_defaults(index: StackIndex, settings: Settings) -> Iterator[Finding]:
    """Settings left undeclared where AWS's current default is secure for new resources only: SSE-SQS on
    queues created since October 2022 (sqs-server-side-encryption.html) and Block Public Access on buckets
    created since April 2023 (access-control-block-public-access.html). S3 default encryption needs no
    note: since 5 January 2023 S3 applies SSE-S3 to every bucket, existing ones included
    (default-encryption-faq.html), so an undeclared setting is never unencrypted."""
    for queue in index.queues:
        sse = queue.prop("sqsManagedSseEnabled")
        if sse is None and not queue.prop("kmsMasterKeyId"):
            yield (
                f"queue {queue.label} does not declare its encryption at rest and relies on AWS's default: "
                f"{SECURE_DEFAULTS['sqs']}. Declare sqsManagedSseEnabled=True to make it explicit.",
                queue.resource.urn,
            )
    for bucket in index.buckets:
        names = bucket_names(bucket)
        label = bucket_label(bucket)
        if not index.attached(PUBLIC_ACCESS_BLOCK, names, bucket.urn):
            yield (
                f"bucket {label} declares no public access block and relies on AWS's default: "
                f"{SECURE_DEFAULTS['s3-public-access']}; a bucket created earlier or an account that changed "
                "the default stays open. Declare an aws.s3.BucketPublicAccessBlock with all four settings True.",
                bucket.urn,
            )


aws_secure_defaults_relied_on = StackValidationPolicy(
    name="aws-secure-defaults-relied-on",
    description="Notes settings a program leaves to AWS's defaults where the default is now secure only for new "
    "resources (SSE-SQS on queues, Block Public Access on buckets), naming the default and when it changed. Fix: "
    "declare the setting.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=stack_validator(_secure_defaults),
    remediation_steps="Declare sqsManagedSseEnabled=True on the queue and an aws.s3.BucketPublicAccessBlock with all "
    "four settings True on the bucket.",
    url=S3_BPA_DOC,
)

DEFAULTS_POLICIES = [aws_secure_defaults_relied_on]
