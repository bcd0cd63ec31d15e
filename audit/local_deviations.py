"""The one deviation a local deployment declares: TLS-only bucket policy statements left out for moto.

moto refuses every object request under a bucket policy's TLS-only Deny (it never supplies
aws:SecureTransport), so `python -m sandbox.deploy` leaves those statements out and tags the bucket
with `PLAIN_HTTP_TAG`, naming them. On a loopback endpoint only, the audit judges such a bucket as if
the named statements were there (they are what AWS would hold) and reports the deviation as an
advisory finding, so a fresh local deployment passes while any other change to the policy still
fails. On AWS the tag is never read. docs/local-walkthrough.md tells the story.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from audit.declared import DeclaredStack
from audit.documents import localize, statements
from audit.drift import ADVISORY, Finding
from audit.live_state import LiveState
from worker.aws_setup import PLAIN_HTTP_TAG


def left_out_statements(s3: Any, bucket: str) -> list[str]:
    """The Sids the bucket's PLAIN_HTTP_TAG names; [] when it has no such tag."""
    try:
        tags = s3.get_bucket_tagging(Bucket=bucket).get("TagSet", [])
    except ClientError:  # NoSuchTagSet, or no such bucket: nothing declared
        return []
    return next((tag["Value"].split() for tag in tags if tag["Key"] == PLAIN_HTTP_TAG), [])


def restore_left_out(s3: Any, declared: DeclaredStack, live: LiveState) -> list[Finding]:
    """Put the declared statements a local deploy left out back into `live` (for judging) and return
    one advisory finding per bucket that had any. Only statements conditioned on aws:SecureTransport
    qualify, whatever the tag says."""
    findings = []
    for bucket, want_text in sorted(declared.bucket_policies.items()):
        if bucket not in live.buckets:
            continue
        sids = left_out_statements(s3, bucket)
        wanted = [
            statement
            for statement in statements(localize(want_text, declared, live))
            if statement.get("Sid") in sids and _tls_only(statement)
        ]
        if not wanted:
            continue
        guards = live.buckets[bucket]
        have = statements(guards.get("policy"))
        have_sids = {statement.get("Sid") for statement in have}
        restored = have + [statement for statement in wanted if statement.get("Sid") not in have_sids]
        guards["policy"] = json.dumps({"Version": "2012-10-17", "Statement": restored})
        findings.append(
            Finding(
                ADVISORY,
                f"bucket {bucket}",
                "policy",
                wanted,
                None,
                f"bucket policy statement(s) {', '.join(s['Sid'] for s in wanted)} left out by sandbox.deploy "
                "for plain-HTTP uploads to the local endpoint (moto denies every request under them); "
                "judged as declared (docs/local-walkthrough.md)",
            )
        )
    return findings


def _tls_only(statement: dict[str, Any]) -> bool:
    conditions = statement.get("Condition") or {}
    return statement.get("Effect") == "Deny" and any(
        isinstance(keys, dict) and "aws:SecureTransport" in keys for keys in conditions.values()
    )
