"""The termination drain: a fake IMDSv2 on loopback, a stubbed Auto Scaling client (moto does not
implement CompleteLifecycleAction), and a stop command that records when it ran."""

from __future__ import annotations

import http.server
import sys
import threading

import boto3
from botocore.stub import Stubber

from worker import drain


class FakeMetadata(http.server.BaseHTTPRequestHandler):
    """IMDSv2: a token first, then metadata; the lifecycle state turns Terminated after three polls."""

    polls = 0

    def do_PUT(self):  # noqa: N802
        assert self.path == "/latest/api/token"
        self._answer("token-123")

    def do_GET(self):  # noqa: N802
        assert self.headers["X-aws-ec2-metadata-token"] == "token-123"
        if self.path.endswith("target-lifecycle-state"):
            FakeMetadata.polls += 1
            self._answer("Terminated" if FakeMetadata.polls > 3 else "InService")
        elif self.path.endswith("instance-id"):
            self._answer("i-0123456789abcdef0")
        else:
            self.send_error(404)

    def _answer(self, text: str) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(text.encode())

    def log_message(self, *_):
        pass


def test_drain_stops_the_worker_then_completes_the_hook(tmp_path, monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeMetadata)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(drain, "IMDS", f"http://127.0.0.1:{server.server_address[1]}")
    autoscaling = boto3.client(
        "autoscaling", region_name="ap-northeast-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    marker = tmp_path / "stopped"
    with Stubber(autoscaling) as stub:
        stub.add_response(
            "complete_lifecycle_action",
            {},
            {
                "LifecycleHookName": "drain-on-termination",
                "AutoScalingGroupName": "cis-file-processor-production",
                "LifecycleActionResult": "CONTINUE",
                "InstanceId": "i-0123456789abcdef0",
            },
        )
        stopped_before_completion = []

        class CheckingOrder:
            def complete_lifecycle_action(self, **parameters):
                stopped_before_completion.append(marker.exists())
                return autoscaling.complete_lifecycle_action(**parameters)

        instance = drain.drain(
            CheckingOrder(),
            drain.imds_get,
            [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('stopped')"],
            group_name="cis-file-processor-production",
            hook_name="drain-on-termination",
            poll_seconds=0.01,
        )
        stub.assert_no_pending_responses()
    server.shutdown()
    assert instance == "i-0123456789abcdef0"
    assert stopped_before_completion == [True]  # the worker was stopped before the hook was completed
    assert FakeMetadata.polls == 4
