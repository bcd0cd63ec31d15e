"""`python -m dlq` against moto server: reading hides nothing for long, dry runs change nothing, export
comes before purge, and setup errors are one line, exit 2, nothing changed."""

from __future__ import annotations

import json

import pytest

from dlq.__main__ import main
from sandbox.local_aws import queue_depth
from tests.dlq.seeding import carried_ids, dead_letter, direct_body, drain, eventbridge_body, sns_body

pytestmark = pytest.mark.slow


@pytest.fixture
def seeded(aws, pipeline_factory):
    """A pipeline whose DLQ holds 3 worker dead letters (two reasons) and 2 that SQS redrove."""
    _, sqs, _ = aws
    pipeline = pipeline_factory()
    sqs.purge_queue(QueueUrl=pipeline.queue_url)  # the s3:TestEvent of the notification set-up
    bucket = pipeline.upload_bucket
    ids = {
        "pdf1": dead_letter(
            sqs,
            pipeline.dlq_url,
            direct_body(bucket, "uploads/reports/a 1.pdf"),
            "PermanentError",
            "not a readable PDF",
        ),
        "pdf2": dead_letter(
            sqs,
            pipeline.dlq_url,
            sns_body(bucket, "uploads/reports/b.pdf"),
            "PermanentError",
            "not a readable PDF",
        ),
        "timeout": dead_letter(
            sqs,
            pipeline.dlq_url,
            direct_body(bucket, "uploads/big/c.bin"),
            "ProcessingTimedOut",
            "took longer than 10 s",
        ),
        "sqs1": dead_letter(sqs, pipeline.dlq_url, eventbridge_body(bucket, "uploads/見積書/d.txt")),
        "sqs2": dead_letter(sqs, pipeline.dlq_url, direct_body(bucket, "uploads/見積書/e.txt")),
    }
    return pipeline, ids


def urls(pipeline) -> list[str]:
    return ["--dlq-url", pipeline.dlq_url, "--queue-url", pipeline.queue_url]


def test_summary_counts_every_group_and_releases_all_messages_at_once(aws, seeded, capsys):
    _, sqs, _ = aws
    pipeline, _ = seeded
    assert main(["summary", "--json", *urls(pipeline)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total"] == 5
    assert {(g["errorType"], g["count"]) for g in report["byReason"]} == {
        ("PermanentError", 2),
        ("ProcessingTimedOut", 1),
        ("none", 2),
    }
    assert report["byPrefix"] == {"uploads/reports/": 2, "uploads/見積書/": 2, "uploads/big/": 1}
    assert queue_depth(sqs, pipeline.dlq_url) == (5, 0), "summary left messages hidden"
    assert len(drain(sqs, pipeline.dlq_url)) == 5
    # now all five are held by that reader: the next summary says so instead of reporting an empty DLQ
    assert main(["summary", "--json", *urls(pipeline)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["total"], report["inFlight"]) == (0, 5)


def test_show_lists_a_group_without_consuming_it(aws, seeded, capsys):
    _, sqs, _ = aws
    pipeline, ids = seeded
    assert main(["show", "--reason", "none", "--json", *urls(pipeline)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {row["messageId"] for row in rows} == {ids["sqs1"], ids["sqs2"]}
    assert {row["key"] for row in rows} == {"uploads/見積書/d.txt", "uploads/見積書/e.txt"}
    assert main(["show", "--reason", "readable", *urls(pipeline)]) == 0
    table = capsys.readouterr().out
    assert "uploads/reports/a 1.pdf" in table and "2 message(s)" in table
    assert queue_depth(sqs, pipeline.dlq_url) == (5, 0)


def test_purge_deletes_only_exported_messages_and_only_with_yes(aws, seeded, tmp_path, capsys):
    _, sqs, _ = aws
    pipeline, ids = seeded
    record = tmp_path / "incident.jsonl"
    assert main(["export", str(record), *urls(pipeline)]) == 0
    lines = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
    assert {line["messageId"] for line in lines} == set(ids.values())
    assert all(line["body"] and "messageAttributes" in line for line in lines)
    late = dead_letter(
        sqs,
        pipeline.dlq_url,
        direct_body(pipeline.upload_bucket, "uploads/reports/late.pdf"),
        "PermanentError",
        "not a readable PDF",
    )

    assert main(["purge", "--reason", "PermanentError", "--export", str(record), *urls(pipeline)]) == 0
    assert "would delete 2" in capsys.readouterr().out
    assert queue_depth(sqs, pipeline.dlq_url) == (6, 0), "a dry run changed the DLQ"

    assert (
        main(["purge", "--reason", "PermanentError", "--export", str(record), "--yes", *urls(pipeline)]) == 0
    )
    assert "deleted 2 message(s); 1 not exported, kept" in capsys.readouterr().out
    left = {m["MessageId"] for m in drain(sqs, pipeline.dlq_url, visibility_seconds=1)}
    assert left == {ids["timeout"], ids["sqs1"], ids["sqs2"], late}
    assert main(["export", str(record), *urls(pipeline)]) == 2, "an export must not overwrite the record"


def test_filtered_redrive_is_a_dry_run_without_yes_then_moves_only_the_group(aws, seeded, tmp_path, capsys):
    _, sqs, _ = aws
    pipeline, ids = seeded
    ledger = ["--ledger", str(tmp_path / "ledger")]
    assert main(["redrive", "--reason", "none", *ledger, *urls(pipeline)]) == 0
    assert "dry run: would move 2" in capsys.readouterr().out
    assert queue_depth(sqs, pipeline.queue_url) == (0, 0) and queue_depth(sqs, pipeline.dlq_url) == (5, 0)

    assert main(["redrive", "--reason", "none", "--yes", *ledger, *urls(pipeline)]) == 0
    assert sorted(carried_ids(drain(sqs, pipeline.queue_url))) == sorted([ids["sqs1"], ids["sqs2"]])
    assert len(drain(sqs, pipeline.dlq_url, visibility_seconds=1)) == 3


def test_redrive_of_everything_falls_back_to_one_at_a_time_where_the_move_task_is_missing(
    aws, seeded, tmp_path, capsys
):
    _, sqs, _ = aws
    pipeline, ids = seeded
    assert main(["redrive", "--ledger", str(tmp_path / "ledger"), *urls(pipeline)]) == 0
    dry_run = capsys.readouterr().out
    assert "one at a time" in dry_run and "this endpoint has no StartMessageMoveTask" in dry_run, (
        "the dry run must name the method the real run will use"
    )
    assert main(["redrive", "--yes", "--ledger", str(tmp_path / "ledger"), *urls(pipeline)]) == 0
    captured = capsys.readouterr()
    assert "StartMessageMoveTask is not available" in captured.err and "moved 5 message(s)" in captured.out
    assert sorted(carried_ids(drain(sqs, pipeline.queue_url))) == sorted(ids.values())
    assert queue_depth(sqs, pipeline.dlq_url) == (0, 0)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (lambda p: ["--dlq-url", p.dlq_url + "-missing"], "queue does not exist"),
        (lambda p: ["--dlq-url", p.queue_url], "is no queue's dead-letter queue"),
        (lambda p: ["--dlq-url", p.queue_url, "--queue-url", p.dlq_url], "is not the dead-letter queue of"),
    ],
    ids=["missing", "work-queue-as-dlq", "swapped"],
)
def test_setup_errors_are_one_line_exit_2_and_change_nothing(
    aws, seeded, tmp_path, capsys, arguments, message
):
    _, sqs, _ = aws
    pipeline, _ = seeded
    sqs.send_message(
        QueueUrl=pipeline.queue_url, MessageBody=direct_body(pipeline.upload_bucket, "uploads/x.txt")
    )
    for command in (
        ["summary"],
        ["redrive", "--yes", "--ledger", str(tmp_path / "l")],
        ["purge", "--export", "x", "--yes"],
    ):
        assert main([*command, *arguments(pipeline)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err
    assert queue_depth(sqs, pipeline.dlq_url) == (5, 0)
    assert queue_depth(sqs, pipeline.queue_url) == (1, 0)


def test_a_dlq_with_a_redrive_policy_of_its_own_is_read_with_a_warning(aws, pipeline_factory, capsys):
    _, sqs, _ = aws
    pipeline = pipeline_factory()
    onward = sqs.create_queue(QueueName=pipeline.dlq_url.rsplit("/", 1)[-1] + "-2")["QueueUrl"]
    onward_arn = sqs.get_queue_attributes(QueueUrl=onward, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": onward_arn, "maxReceiveCount": 5})
    sqs.set_queue_attributes(QueueUrl=pipeline.dlq_url, Attributes={"RedrivePolicy": policy})
    assert main(["summary", *urls(pipeline)]) == 0
    assert "has a RedrivePolicy of its own" in capsys.readouterr().err


def test_export_to_an_unwritable_path_is_one_line_exit_2_and_reads_nothing(aws, seeded, tmp_path, capsys):
    """Found by trying: `export /no/such/dir/x.jsonl` read (and so received) the whole DLQ, then ended
    in a FileNotFoundError traceback."""
    _, sqs, _ = aws
    pipeline, _ = seeded
    target = tmp_path / "no-such-dir" / "incident.jsonl"
    assert main(["export", str(target), *urls(pipeline)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(target) in err and "writable" in err
    counts = {m["Attributes"]["ApproximateReceiveCount"] for m in drain(sqs, pipeline.dlq_url)}
    assert counts == {"1"}, "the failed export received the dead letters"


def test_an_interrupted_export_leaves_no_file_behind(aws, seeded, tmp_path, capsys, monkeypatch):
    """Found by walking the local path: Ctrl-C during `export FILE` exited 130 but left an empty
    `FILE.partial` next to where the incident record was to go."""
    import dlq.__main__ as dlq_main

    pipeline, _ = seeded

    def interrupted_read(queues):
        raise KeyboardInterrupt

    monkeypatch.setattr(dlq_main, "read", interrupted_read)
    target = tmp_path / "incident.jsonl"
    assert main(["export", str(target), *urls(pipeline)]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_purge_with_an_export_that_is_not_text_is_refused_and_changes_nothing(aws, seeded, tmp_path, capsys):
    _, sqs, _ = aws
    pipeline, _ = seeded
    garbage = tmp_path / "incident.jsonl"
    garbage.write_bytes(b"\xff\xfe\x00 not an export")
    assert main(["purge", "--export", str(garbage), "--yes", *urls(pipeline)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(garbage) in err and "nothing changed" in err
    assert queue_depth(sqs, pipeline.dlq_url) == (5, 0)


def test_bodies_and_attributes_other_writers_send_keep_every_json_output_valid(
    aws, pipeline_factory, tmp_path, capsys
):
    """Not JSON, blank, 256 KB, control characters, a numeric eventTime, Binary and Number attributes:
    show --json, summary --json and export stay valid JSON, and nothing is consumed."""
    _, sqs, _ = aws
    pipeline = pipeline_factory()
    sqs.purge_queue(QueueUrl=pipeline.queue_url)
    odd_time = {"Records": [{"eventTime": 5, "s3": {"bucket": {"name": "b"}, "object": {"key": "a%20b"}}}]}
    bodies = [
        "not json",
        " ",
        "x" * (256 * 1024 - 16),
        "\u0001\u0007\ufffd\t\r\n",
        "[1]",
        json.dumps(odd_time),
    ]
    for body in bodies:
        sqs.send_message(QueueUrl=pipeline.dlq_url, MessageBody=body)
    binary = {"ErrorType": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}}
    sqs.send_message(QueueUrl=pipeline.dlq_url, MessageBody="{}", MessageAttributes=binary)
    number = {"Reason": {"DataType": "Number", "StringValue": "42"}}
    sqs.send_message(QueueUrl=pipeline.dlq_url, MessageBody="{}", MessageAttributes=number)
    total = len(bodies) + 2

    assert main(["show", "--json", *urls(pipeline)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == total and {"a b"} <= {row["key"] for row in rows}
    assert main(["summary", "--json", *urls(pipeline)]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == total
    record = tmp_path / "odd.jsonl"
    assert main(["export", str(record), *urls(pipeline)]) == 0
    lines = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
    assert sorted(len(line["body"]) for line in lines)[-1] == 256 * 1024 - 16
    assert queue_depth(sqs, pipeline.dlq_url) == (total, 0)


def test_purge_says_when_exported_messages_were_held_elsewhere_and_not_deleted(aws, seeded, tmp_path, capsys):
    """Found by trying: with two exported messages held by another reader, `purge --yes` printed
    "deleted 3 message(s); 0 not exported, kept" as if the export were gone; two stayed, unmentioned."""
    _, sqs, _ = aws
    pipeline, _ = seeded
    record = tmp_path / "incident.jsonl"
    assert main(["export", str(record), *urls(pipeline)]) == 0
    held = sqs.receive_message(QueueUrl=pipeline.dlq_url, MaxNumberOfMessages=2, VisibilityTimeout=60)
    assert len(held["Messages"]) == 2
    capsys.readouterr()
    assert main(["purge", "--export", str(record), "--yes", *urls(pipeline)]) == 0
    captured = capsys.readouterr()
    assert "deleted 3 message(s)" in captured.out
    assert "2 message(s) recorded in" in captured.err and "run the same purge again" in captured.err
    assert queue_depth(sqs, pipeline.dlq_url) == (0, 2)
