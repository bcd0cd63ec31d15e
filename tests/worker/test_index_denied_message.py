"""The start-up check's message when the index bucket refuses the probe write names both causes: the
role's permission and a bucket policy's deny (a TLS-only policy refuses a plain-HTTP endpoint), not
only the first."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from worker.config import WorkerConfig
from worker.errors import ConfigurationError
from worker.startup import check_index_bucket


class DenyingS3:
    def put_object(self, **_: object) -> None:
        raise ClientError({"Error": {"Code": "403", "Message": "Forbidden"}}, "PutObject")


def test_a_denied_probe_names_the_role_and_the_bucket_policy():
    config = WorkerConfig.from_environ(
        {
            "QUEUE_URL": "http://127.0.0.1:5000/123456789012/queue",
            "PROCESSING_TIMEOUT_SECONDS": "60",
            "METRIC_NAMESPACE": "CISFileSearch/Worker",
            "INDEX_BUCKET": "index",
        }
    )
    with pytest.raises(ConfigurationError) as refused:
        check_index_bucket(DenyingS3(), config)
    message = str(refused.value)
    assert "s3:PutObject" in message and "bucket policy" in message and "plain-HTTP" in message
