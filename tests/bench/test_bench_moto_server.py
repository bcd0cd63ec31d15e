"""bench/moto_server.py changes how moto checks retention on receive, not what it answers."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from moto.sqs.models import SQSBackend, sqs_backends

from bench import moto_server


@pytest.fixture(params=["moto", "patched"])
def receive_check(request, monkeypatch):
    if request.param == "patched":
        monkeypatch.setattr(SQSBackend, "is_message_valid_based_on_retention_period", moto_server._retained)
    return request.param


@mock_aws
def test_expired_messages_are_not_received_either_way(receive_check):
    sqs = boto3.client("sqs", region_name="ap-northeast-1")
    url = sqs.create_queue(QueueName="retained", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    for body in ("new", "old"):  # moto stops a receive at the first expired message it meets
        sqs.send_message(QueueUrl=url, MessageBody=body)
    queue = sqs_backends["123456789012"]["ap-northeast-1"].get_queue("retained")
    old = next(message for message in queue._messages if message.body == "old")
    old.sent_timestamp -= 61_000  # sent 61 s before its retention period of 60 s ran out

    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])

    assert [message["Body"] for message in received] == ["new"]
