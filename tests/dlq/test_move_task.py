"""The whole-queue move (StartMessageMoveTask, followed with ListMessageMoveTasks) and the setup errors,
against botocore's Stubber: moto 5.2 does not implement the move task, and cannot deny permission."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from dlq import moving
from dlq.__main__ import main

REGION = "ap-northeast-1"
DLQ_URL = f"https://sqs.{REGION}.amazonaws.com/123456789012/file-processing-dlq-production"
QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/123456789012/file-processing-queue-production"
DLQ_ARN = f"arn:aws:sqs:{REGION}:123456789012:file-processing-dlq-production"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:123456789012:file-processing-queue-production"


@pytest.fixture
def sqs():
    client = boto3.session.Session(
        aws_access_key_id="x", aws_secret_access_key="x", region_name=REGION
    ).client("sqs")
    with Stubber(client) as stubber:
        client.stubber = stubber
        yield client
        stubber.assert_no_pending_responses()


@pytest.fixture(autouse=True)
def fast_polling(monkeypatch):
    monkeypatch.setattr(moving, "MOVE_TASK_POLL_SECONDS", 0.0)


def expect_open_queues(stubber: Stubber, depth: int = 10, target: str = DLQ_ARN) -> None:
    stubber.add_response(
        "get_queue_attributes",
        {
            "Attributes": {
                "QueueArn": DLQ_ARN,
                "ApproximateNumberOfMessages": str(depth),
                "ApproximateNumberOfMessagesNotVisible": "0",
            }
        },
        {
            "QueueUrl": DLQ_URL,
            "AttributeNames": [
                "QueueArn",
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "RedrivePolicy",
            ],
        },
    )
    policy = json.dumps({"deadLetterTargetArn": target, "maxReceiveCount": 3})
    stubber.add_response(
        "get_queue_attributes",
        {"Attributes": {"QueueArn": QUEUE_ARN, "RedrivePolicy": policy}},
        {"QueueUrl": QUEUE_URL, "AttributeNames": ["QueueArn", "RedrivePolicy"]},
    )


def task(status: str, moved: int, to_move: int = 10, **extra) -> dict:
    return {
        "Results": [
            {
                "TaskHandle": "handle-1" if status == "RUNNING" else None,
                "Status": status,
                "SourceArn": DLQ_ARN,
                "DestinationArn": QUEUE_ARN,
                "MaxNumberOfMessagesPerSecond": 50,
                "ApproximateNumberOfMessagesMoved": moved,
                "ApproximateNumberOfMessagesToMove": to_move,
                "StartedTimestamp": 1_800_000_000_000,
                **extra,
            }
        ]
    }


def clean(entry: dict) -> dict:
    return {"Results": [{k: v for k, v in r.items() if v is not None} for r in entry["Results"]]}


def test_redrive_of_everything_starts_a_move_task_at_the_rate_and_follows_it_to_completion(sqs, capsys):
    stubber = sqs.stubber
    expect_open_queues(stubber)
    stubber.add_response(
        "start_message_move_task",
        {"TaskHandle": "handle-1"},
        {"SourceArn": DLQ_ARN, "DestinationArn": QUEUE_ARN, "MaxNumberOfMessagesPerSecond": 50},
    )
    follow = {"SourceArn": DLQ_ARN, "MaxResults": 1}
    stubber.add_response("list_message_move_tasks", clean(task("RUNNING", 3)), follow)
    stubber.add_response("list_message_move_tasks", clean(task("RUNNING", 7)), follow)
    stubber.add_response("list_message_move_tasks", clean(task("COMPLETED", 10)), follow)
    code = main(["redrive", "--dlq-url", DLQ_URL, "--queue-url", QUEUE_URL, "--rate", "50", "--yes"], sqs=sqs)
    out = capsys.readouterr().out
    assert code == 0
    assert "move task COMPLETED: 10 of 10 message(s) moved" in out


def test_a_failed_move_task_exits_1_with_its_reason(sqs, capsys):
    stubber = sqs.stubber
    expect_open_queues(stubber)
    stubber.add_response("start_message_move_task", {"TaskHandle": "handle-1"})
    stubber.add_response(
        "list_message_move_tasks",
        clean(task("FAILED", 4, FailureReason="AWS.SimpleQueueService.AccessDenied")),
    )
    code = main(["redrive", "--dlq-url", DLQ_URL, "--queue-url", QUEUE_URL, "--yes"], sqs=sqs)
    captured = capsys.readouterr()
    assert code == 1
    assert "FAILED: 4 of 10" in captured.out and "AccessDenied" in captured.err


def test_the_rate_is_used_up_to_the_apis_maximum(sqs):
    stubber = sqs.stubber
    expect_open_queues(stubber)
    stubber.add_response(
        "start_message_move_task",
        {"TaskHandle": "h"},
        {"SourceArn": DLQ_ARN, "DestinationArn": QUEUE_ARN, "MaxNumberOfMessagesPerSecond": 500},
    )
    stubber.add_response("list_message_move_tasks", clean(task("COMPLETED", 10)))
    assert (
        main(["redrive", "--dlq-url", DLQ_URL, "--queue-url", QUEUE_URL, "--rate", "500", "--yes"], sqs=sqs)
        == 0
    )


@pytest.mark.parametrize(
    ("option", "value"), [("--rate", "9000"), ("--rate", "-5"), ("--rate", "0"), ("--max", "0")]
)
def test_a_rate_or_max_out_of_range_names_the_value_and_calls_nothing(sqs, capsys, option, value):
    """Found by trying: `--rate 9000` was silently capped at 500 (and the dry run promised 9000 msg/s);
    `--max 0` said only "must be at least 1"."""
    with pytest.raises(SystemExit) as stopped:
        main(["redrive", "--dlq-url", DLQ_URL, "--queue-url", QUEUE_URL, option, value, "--yes"], sqs=sqs)
    assert stopped.value.code == 2
    assert f"{option} {value}:" in capsys.readouterr().err
    sqs.stubber.assert_no_pending_responses()  # and the stubber raises on any call it was not given


def test_without_permission_one_line_exit_2_and_no_other_call(sqs, capsys):
    sqs.stubber.add_client_error(
        "get_queue_attributes",
        service_error_code="AccessDenied",
        service_message="User: arn:aws:iam::123456789012:user/ops is not authorized to perform: sqs:getqueueattributes",
        http_status_code=403,
    )
    code = main(["purge", "--dlq-url", DLQ_URL, "--export", "x.jsonl", "--yes"], sqs=sqs)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("dlq: no permission to GetQueueAttributes")


def test_a_queue_that_does_not_target_the_dlq_is_refused_before_anything_changes(sqs, capsys):
    expect_open_queues(sqs.stubber, target=f"arn:aws:sqs:{REGION}:123456789012:other-dlq")
    code = main(["redrive", "--dlq-url", DLQ_URL, "--queue-url", QUEUE_URL, "--yes"], sqs=sqs)
    err = capsys.readouterr().err
    assert code == 2 and "is not the dead-letter queue" in err and "other-dlq" in err


def test_stack_outputs_file_gives_the_urls(sqs, tmp_path, capsys):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"queueUrl": QUEUE_URL, "dlqUrl": DLQ_URL, "bucketName": "b"}))
    expect_open_queues(sqs.stubber, depth=0)
    sqs.stubber.add_response("receive_message", {"Messages": []})
    assert main(["summary", "--stack-outputs", str(outputs)], sqs=sqs) == 0
    assert "0 dead letters" in capsys.readouterr().out


def test_without_urls_or_outputs_the_error_names_the_options(monkeypatch, capsys):
    monkeypatch.setenv("PATH", "/nonexistent")  # no Pulumi CLI
    assert main(["summary"]) == 2
    err = capsys.readouterr().err
    assert "--dlq-url" in err and "--stack-outputs" in err and err.count("\n") == 1


def test_the_urls_come_from_the_pulumi_cli_where_it_is_installed(monkeypatch, tmp_path):
    """A stand-in `pulumi` on PATH answers `pulumi stack output --json --stack production` like the CLI."""
    from dlq.queues import resolve_urls

    calls = tmp_path / "calls"
    fake = tmp_path / "pulumi"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {calls}\n'
        f"echo '{json.dumps({'queueUrl': QUEUE_URL, 'dlqUrl': DLQ_URL, 'queueArn': QUEUE_ARN})}'\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert resolve_urls(None, None, stack="production") == (DLQ_URL, QUEUE_URL)
    assert calls.read_text().split() == ["stack", "output", "--json", "--stack", "production"]
    assert resolve_urls("https://given/dlq", None) == ("https://given/dlq", None), "a given URL wins"


def test_a_move_denied_sqs_sendmessage_stops_at_once_deletes_nothing_and_releases_what_it_read(
    sqs, tmp_path, capsys
):
    stubber = sqs.stubber
    expect_open_queues(stubber, depth=2)
    messages = [
        {
            "MessageId": f"m{n}",
            "ReceiptHandle": f"rh{n}",
            "Body": "{}",
            "Attributes": {"SentTimestamp": "1800000000000"},
        }
        for n in range(2)
    ]
    stubber.add_response("receive_message", {"Messages": messages})
    stubber.add_client_error(
        "send_message",
        service_error_code="AccessDenied",
        service_message="not authorized",
        http_status_code=403,
    )
    release = {
        "QueueUrl": DLQ_URL,
        "Entries": [{"Id": str(n), "ReceiptHandle": f"rh{n}", "VisibilityTimeout": 0} for n in range(2)],
    }
    stubber.add_response(
        "change_message_visibility_batch", {"Successful": [{"Id": "0"}, {"Id": "1"}], "Failed": []}, release
    )
    arguments = ["redrive", "--reason", "none", "--yes", "--ledger", str(tmp_path / "ledger")]
    code = main([*arguments, "--dlq-url", DLQ_URL, "--queue-url", QUEUE_URL], sqs=sqs)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "no permission to move messages" in err


def test_a_second_full_redrive_while_a_move_task_runs_is_refused_not_run_one_at_a_time(sqs, capsys):
    """Found by reading the fallback: SQS runs one move task per queue and refuses a second start; the
    refusal (UnsupportedOperation) was taken for "not available here", and a one-at-a-time move started
    beside the running task."""
    stubber = sqs.stubber
    expect_open_queues(stubber)
    stubber.add_client_error(
        "start_message_move_task",
        service_error_code="AWS.SimpleQueueService.UnsupportedOperation",
        service_message="Only one active message movement task is supported per queue",
        http_status_code=400,
    )
    stubber.add_response("list_message_move_tasks", clean(task("RUNNING", 3)))
    assert main(["redrive", "--dlq-url", DLQ_URL, "--queue-url", QUEUE_URL, "--yes"], sqs=sqs) == 2
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1
        and "already RUNNING" in err
        and "handle-1" in err
        and "CancelMessageMoveTask" in err
    )
