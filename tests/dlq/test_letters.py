"""Reading dead letters: the three body shapes, the groups, the filters, the ledger and the progress bar."""

from __future__ import annotations

import io
import json

from dlq.letters import NO_REASON_TYPE, DeadLetter, objects_in, prefix_of, summarize
from dlq.moving import Ledger, Progress, select
from tests.dlq.seeding import direct_body, eventbridge_body, sns_body, worker_attributes

NOW = 1_800_000_000.0


def letter(
    body: str, error_type: str | None = None, reason: str = "", sent_ago: float = 60, **attrs
) -> DeadLetter:
    return DeadLetter.from_message(
        {
            "MessageId": f"id-{abs(hash((body, error_type, reason, sent_ago)))}",
            "ReceiptHandle": "rh",
            "Body": body,
            "MessageAttributes": worker_attributes(error_type, reason) if error_type else {},
            "Attributes": {
                "SentTimestamp": str(int((NOW - sent_ago) * 1000)),
                "ApproximateReceiveCount": "4",
                **attrs,
            },
        }
    )


def test_keys_are_read_from_every_envelope_and_url_decoded_where_s3_encodes_them():
    key = "uploads/見積書/報告 2026.pdf"
    for body in (direct_body("b", key, 7), sns_body("b", key, 7), eventbridge_body("b", key, 7)):
        (found,) = objects_in(body)
        assert (found.bucket, found.key, found.size) == ("b", key, 7)


def test_a_body_that_is_not_an_s3_event_names_no_object():
    for body in (
        "not json",
        "[1, 2]",
        json.dumps({"Records": [{"eventSource": "aws:s3"}]}),
        json.dumps({"Message": "{"}),
    ):
        assert objects_in(body) == ()


def test_messages_sqs_redrove_form_their_own_group_and_the_worker_reason_is_kept():
    letters = [
        letter(direct_body("b", "uploads/a/1.pdf"), "PermanentError", "not a readable PDF"),
        letter(direct_body("b", "uploads/a/2.pdf"), "PermanentError", "not a readable PDF"),
        letter(sns_body("b", "uploads/b/3.txt")),
        letter("garbage", "not_an_s3_event", "body is not JSON", sent_ago=8 * 86_400),
    ]
    report = summarize(letters, now=NOW)
    assert report["total"] == 4
    groups = {(g["errorType"], g["count"]) for g in report["byReason"]}
    assert groups == {("PermanentError", 2), (NO_REASON_TYPE, 1), ("not_an_s3_event", 1)}
    assert report["byPrefix"] == {"uploads/a/": 2, "uploads/b/": 1, "(not an S3 event)": 1}
    assert report["byAge"] == {"< 1 h": 3, ">= 7 d": 1}
    assert report["oldest"] < report["newest"]


def test_reasons_that_name_their_own_file_still_group_together():
    letters = [
        letter(direct_body("b", f"uploads/{name}"), "PermanentError", f"uploads/{name} is not a readable PDF")
        for name in ("q3 report.pdf", "q4 report.pdf")
    ]
    (group,) = summarize(letters, now=NOW)["byReason"]
    assert (group["reason"], group["count"]) == ("<key> is not a readable PDF", 2)
    assert letters[0].reason == "uploads/q3 report.pdf is not a readable PDF"


def test_receive_count_prefers_the_workers_record_over_sqs_count():
    assert letter(direct_body("b", "k"), "E", "r").receive_count == 1
    assert letter(direct_body("b", "k")).receive_count == 4


def test_filters_match_error_type_exactly_reason_by_part_and_none_for_sqs_redrives():
    pdf = letter(direct_body("b", "uploads/a/1.pdf"), "PermanentError", "not a readable PDF")
    plain = letter(direct_body("b", "uploads/b/2.txt"))
    assert pdf.matches(reason="permanenterror") and pdf.matches(reason="readable")
    assert not pdf.matches(reason="Permanent")  # an error type matches whole, not in part
    assert plain.matches(reason="none") and not pdf.matches(reason="none")
    assert select([pdf, plain], None, "uploads/b/", None) == [plain]
    assert select([pdf, plain], None, None, 1) == [pdf]


def test_prefix_is_the_first_two_folders():
    assert prefix_of("uploads/reports/2026/x.pdf") == "uploads/reports/"
    assert prefix_of("x.pdf") == "(top level)"


def test_ledger_survives_a_line_cut_short_by_a_kill(tmp_path):
    path = tmp_path / "ledger"
    ledger = Ledger(path)
    ledger.write("m1", "sending")
    ledger.write("m1", "sent", copy="c1")
    ledger.close()
    with path.open("a") as handle:
        handle.write('{"id": "m1", "sta')
    assert Ledger(path).states == {"m1": "sent"}


def test_progress_draws_a_bar_for_long_moves_and_stays_quiet_for_short_ones():
    stream = io.StringIO()
    progress = Progress(100, "moving", stream=stream)
    for done in range(1, 101):
        progress.update(done)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 11 and lines[-1].endswith("100/100") and "#" * 30 in lines[-1]
    quiet = io.StringIO()
    short = Progress(3, "moving", stream=quiet)
    short.update(3)
    assert quiet.getvalue() == ""


def test_fields_other_writers_fill_differently_never_crash_show_or_export():
    """Found by trying: a numeric eventTime crashed `show`, a Binary attribute crashed `export` (bytes
    are not JSON), a non-numeric ReceiveCount crashed both."""
    body = json.dumps(
        {
            "Records": [
                {"eventTime": 5, "s3": {"bucket": {"name": "b"}, "object": {"key": "k", "size": "big"}}}
            ]
        }
    )
    odd = DeadLetter.from_message(
        {
            "MessageId": "odd",
            "ReceiptHandle": "rh",
            "Body": body,
            "MessageAttributes": {
                "ErrorType": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
                "ReceiveCount": {"DataType": "String", "StringValue": "many"},
                "Blobs": {"DataType": "Binary", "BinaryListValues": [b"\x01"]},
            },
            "Attributes": {"SentTimestamp": str(int(NOW * 1000)), "ApproximateReceiveCount": "4"},
        }
    )
    row = odd.row()
    assert (row["key"], row["size"], row["receiveCount"], row["errorType"]) == ("k", None, 4, NO_REASON_TYPE)
    assert row["firstSeen"] == row["lastSeen"]  # the unreadable eventTime is ignored, not trusted
    record = json.loads(json.dumps(odd.record()))
    assert record["messageAttributes"]["ErrorType"]["BinaryValue"] == "AP8="
    assert record["messageAttributes"]["Blobs"]["BinaryListValues"] == ["AQ=="]


def test_a_refused_send_is_recorded_unsent_so_the_rerun_does_not_claim_a_resend(tmp_path):
    from botocore.exceptions import ClientError

    from dlq.moving import MoveResult, _move

    class Refusing:
        def __init__(self) -> None:
            self.refuse = True

        def send_message(self, **request):
            if self.refuse:
                raise ClientError(
                    {"Error": {"Code": "MissingParameter"}, "ResponseMetadata": {"HTTPStatusCode": 400}},
                    "SendMessage",
                )
            return {"MessageId": "copy"}

        def delete_message(self, **request):
            return {}

    sqs, ledger, dead = Refusing(), Ledger(tmp_path / "l"), letter(direct_body("b", "k"))
    try:
        _move(sqs, "q", "dlq", dead, ledger, MoveResult())
    except ClientError:
        pass
    assert Ledger(tmp_path / "l").states[dead.message_id] == "unsent"
    sqs.refuse, result = False, MoveResult()
    _move(sqs, "q", "dlq", dead, ledger, result)
    assert (result.resent, result.resumed, ledger.states[dead.message_id]) == (0, 0, "deleted")
    ledger.close()


def test_reason_none_means_only_the_group_sqs_redrove_not_reasons_that_contain_none():
    """Found by trying: `redrive --reason none` also replayed the worker's permanent failures whose
    reason holds "none" ("'NoneType' object has no attribute ...", "nonexistent bucket")."""
    redriven = letter(direct_body("b", "uploads/a.txt"))
    nonetype = letter(
        direct_body("b", "uploads/b.txt"), "PermanentError", "'NoneType' object has no attribute 'read'"
    )
    assert redriven.matches(reason="none") and redriven.matches(reason="NONE")
    assert not nonetype.matches(reason="none")
    assert nonetype.matches(reason="NoneType"), "a part of the reason still selects it"
