"""`python -m worker.drain`: on an instance the Auto Scaling Group is terminating, stop the worker
gracefully, then let the termination continue.

The ASG's termination lifecycle hook holds the instance in Terminating:Wait. This watcher sees that
through the instance metadata (IMDSv2, `autoscaling/target-lifecycle-state`), stops the service
(SIGTERM: no new receives, in-flight files finish within SHUTDOWN_GRACE_SECONDS), and completes the
lifecycle action, so no file is cut off and no instance lingers longer than needed.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3

from worker.logs import configure_logging

log = logging.getLogger("worker.drain")

# botocore's own variable for the metadata endpoint; the default is the instance's link-local address.
IMDS = os.environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://169.254.169.254").rstrip("/")
DEFAULT_STOP_COMMAND = "systemctl stop file-processor.service"


def imds_get(path: str) -> str:
    token_request = urllib.request.Request(
        f"{IMDS}/latest/api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"}
    )
    with urllib.request.urlopen(token_request, timeout=2) as response:
        token = response.read().decode()
    request = urllib.request.Request(
        f"{IMDS}/latest/meta-data/{path}", headers={"X-aws-ec2-metadata-token": token}
    )
    with urllib.request.urlopen(request, timeout=2) as response:
        return response.read().decode()


def wait_for_termination(read_metadata: Callable[[str], str], poll_seconds: float) -> None:
    while True:
        try:
            if read_metadata("autoscaling/target-lifecycle-state") == "Terminated":
                return
        except OSError as error:
            log.warning("instance metadata not reachable: %s", error)
        time.sleep(poll_seconds)


def drain(
    autoscaling: Any,
    read_metadata: Callable[[str], str],
    stop_command: list[str],
    group_name: str,
    hook_name: str,
    poll_seconds: float = 5,
) -> str:
    """Wait for termination, stop the worker (returns when it has exited), complete the hook."""
    wait_for_termination(read_metadata, poll_seconds)
    instance_id = read_metadata("instance-id")
    log.info("instance is terminating; stopping the worker gracefully", extra={"instance_id": instance_id})
    subprocess.run(stop_command, check=False)
    autoscaling.complete_lifecycle_action(
        LifecycleHookName=hook_name,
        AutoScalingGroupName=group_name,
        LifecycleActionResult="CONTINUE",
        InstanceId=instance_id,
    )
    log.info("worker stopped; termination may continue", extra={"instance_id": instance_id})
    return instance_id


def main() -> int:
    configure_logging()
    drain(
        boto3.client("autoscaling"),
        imds_get,
        shlex.split(os.environ.get("DRAIN_STOP_COMMAND", DEFAULT_STOP_COMMAND)),
        group_name=os.environ["AUTOSCALING_GROUP_NAME"],
        hook_name=os.environ["LIFECYCLE_HOOK_NAME"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
