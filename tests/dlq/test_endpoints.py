"""Wrong endpoints and regions, as an operator types them under pressure: one line naming the bad value
and the fix, exit 2, nothing sent to any queue. No server needed (nothing answers on these ports)."""

from __future__ import annotations

import socket

import pytest

from dlq.__main__ import main
from dlq.queues import sqs_client

EU_DLQ = "https://sqs.eu-west-1.amazonaws.com/123456789012/file-processing-dlq-production"
TOKYO_QUEUE = "https://sqs.ap-northeast-1.amazonaws.com/123456789012/file-processing-queue-production"


@pytest.fixture
def keys(monkeypatch):
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-1")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_SQS", raising=False)


def test_the_region_an_aws_queue_url_names_wins_over_the_environment(keys, monkeypatch):
    """Found by trying: a DLQ URL in eu-west-1 was asked for at ap-northeast-1's endpoint (from
    AWS_DEFAULT_REGION), where AWS answers that the queue does not exist."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    assert sqs_client(EU_DLQ).meta.region_name == "eu-west-1"
    legacy = "https://eu-central-1.queue.amazonaws.com/123456789012/dlq"
    assert sqs_client(legacy).meta.region_name == "eu-central-1"
    assert sqs_client("http://127.0.0.1:5000/123456789012/dlq").meta.region_name == "ap-northeast-1"


def test_a_dlq_and_queue_in_two_regions_are_refused(keys, monkeypatch, capsys):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    assert main(["summary", "--dlq-url", EU_DLQ, "--queue-url", TOKYO_QUEUE]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "eu-west-1" in err and "ap-northeast-1" in err


def test_a_malformed_endpoint_is_one_line_naming_the_variable(keys, monkeypatch, capsys):
    """Found by trying: AWS_ENDPOINT_URL='htp:/bad url' ended in botocore's ValueError traceback."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "htp:/bad url")
    assert main(["summary", "--dlq-url", "http://127.0.0.1:5000/123456789012/dlq"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "AWS_ENDPOINT_URL='htp:/bad url'" in err and "http(s)://" in err


def test_an_endpoint_that_does_not_answer_names_it_and_asks_whether_it_runs(keys, monkeypatch, capsys):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    assert main(["summary", "--dlq-url", f"{endpoint}/123456789012/dlq"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"AWS_ENDPOINT_URL={endpoint} running?" in err
