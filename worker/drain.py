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
import subprocess
import sys
import time
import urllib.request

import boto3

from worker.logs import configure_logging

log = logging.getLogger("worker.drain")

IMDS = "http://169.254.169.254"
POLL_SECONDS = 5
SERVICE = "file-processor.service"


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


def wait_for_termination() -> None:
    while True:
        try:
            if imds_get("autoscaling/target-lifecycle-state") == "Terminated":
                return
        except OSError as error:
            log.warning("instance metadata not reachable: %s", error)
        time.sleep(POLL_SECONDS)


def main() -> int:
    configure_logging()
    group_name = os.environ["AUTOSCALING_GROUP_NAME"]
    hook_name = os.environ["LIFECYCLE_HOOK_NAME"]
    wait_for_termination()
    instance_id = imds_get("instance-id")
    log.info("instance is terminating; stopping the worker gracefully", extra={"instance_id": instance_id})
    subprocess.run(["systemctl", "stop", SERVICE], check=False)  # returns when the worker has exited
    boto3.client("autoscaling").complete_lifecycle_action(
        LifecycleHookName=hook_name,
        AutoScalingGroupName=group_name,
        LifecycleActionResult="CONTINUE",
        InstanceId=instance_id,
    )
    log.info("worker stopped; termination may continue", extra={"instance_id": instance_id})
    return 0


if __name__ == "__main__":
    sys.exit(main())
