"""A start-up check that AWS does not answer is an outage (exit 75, restarted by systemd), not a
setting (exit 2, never restarted): botocore's own retry classification decides which, after its
retries. Without this, a 503 burst while a fleet boots would leave every worker stopped for good."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError
from botocore.stub import Stubber

from worker.config import WorkerConfig
from worker.errors import ConfigurationError, ServiceUnavailable
from worker.startup import run_checks, unavailable

QUEUE_URL = "https://sqs.ap-northeast-1.amazonaws.com/123456789012/work"
DLQ_ARN = "arn:aws:sqs:ap-northeast-1:123456789012:dead"
REDRIVE = json.dumps({"deadLetterTargetArn": DLQ_ARN, "maxReceiveCount": 3})


def client_error(code: str, status: int) -> ClientError:
    response = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "GetQueueAttributes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "outage"),
    [
        (client_error("ServiceUnavailable", 503), True),
        (client_error("503", 503), True),
        (client_error("InternalError", 500), True),
        (client_error("ThrottlingException", 400), True),
        (client_error("RequestThrottled", 403), True),
        (client_error("SlowDown", 503), True),
        (client_error("TooManyRequests", 429), True),
        (client_error("RequestTimeout", 400), True),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), True),
        (ConnectTimeoutError(endpoint_url="http://127.0.0.1:9"), True),
        (client_error("AccessDenied", 403), False),
        (client_error("AWS.SimpleQueueService.NonExistentQueue", 400), False),
        (client_error("InvalidParameterValue", 400), False),
        (client_error("NoSuchBucket", 404), False),
        (ValueError("not an AWS error"), False),
    ],
)
def test_botocores_classification_decides_what_is_an_outage(error, outage):
    assert unavailable(error) is outage


def config() -> WorkerConfig:
    return WorkerConfig(
        queue_url=QUEUE_URL, processing_timeout_seconds=900, metric_namespace="N", index_bucket="index"
    )


def clients():
    session = boto3.session.Session(
        region_name="ap-northeast-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return session.client("sqs"), session.client("s3")


@pytest.mark.parametrize("failing_call", ["queue", "dlq", "bucket"])
@pytest.mark.parametrize(
    ("code", "status", "expected"), [("503", 503, ServiceUnavailable), ("AccessDenied", 403, None)]
)
def test_each_aws_check_tells_an_outage_from_a_refusal(failing_call, code, status, expected):
    sqs, s3 = clients()
    with Stubber(sqs) as sqs_stub, Stubber(s3) as s3_stub:
        if failing_call == "queue":
            sqs_stub.add_client_error("get_queue_attributes", code, http_status_code=status)
        else:
            attributes = {"VisibilityTimeout": "900", "RedrivePolicy": REDRIVE}
            sqs_stub.add_response("get_queue_attributes", {"Attributes": attributes})
            if failing_call == "dlq":
                sqs_stub.add_client_error("get_queue_attributes", code, http_status_code=status)
            else:
                sqs_stub.add_response("get_queue_attributes", {"Attributes": {"QueueArn": DLQ_ARN}})
                s3_stub.add_client_error("put_object", code, http_status_code=status)
        if failing_call == "dlq" and expected is None:
            # the role may not read the DLQ: a warning, the worker starts (docs/worker.md)
            s3_stub.add_response("put_object", {})
            run_checks(config(), sqs, s3)
            return
        with pytest.raises(expected or ConfigurationError) as raised:
            run_checks(config(), sqs, s3)
    assert type(raised.value) is (expected or ConfigurationError)
    if expected is ServiceUnavailable:
        assert "exits 75" in str(raised.value) and code in str(raised.value)
