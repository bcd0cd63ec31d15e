"""The host bootstrap: the cloud-init user data that turns a fresh instance into a running worker, or
fails loudly so the Auto Scaling Group replaces it and a bad rollout rolls back.

The instance launches into the group's launch lifecycle hook (`WORKER_READY_HOOK_NAME`, Pending:Wait):
it is not InService, takes no part in the backlog-per-instance metric and does not pass an instance
refresh's checkpoint until this script completes the hook with CONTINUE, which it does only once the
worker has run for `WORKER_SETTLE_SECONDS` without a restart. Any failure before that (download,
hash check, package install, a worker that exits at start-up) marks the instance Unhealthy and
abandons the launch; the hook's default result on timeout is ABANDON as well. A failed launch fails
the instance refresh, which rolls back on its own (auto rollback: "if the instance refresh fails for
some reason", https://docs.aws.amazon.com/autoscaling/ec2/userguide/instance-refresh-rollback.html).
"""

from __future__ import annotations

import shlex

from components.settings import FleetSettings, PipelineSettings
from worker import contract

SERVICE = "file-processor"
INSTALL_DIR = "/opt/file-processor"
REQUIREMENTS_LOCK = "worker/requirements.lock"
"""The worker's dependencies with their hashes, inside the bundle (so the bundle hash covers them)."""
WHEELHOUSE = "worker/wheelhouse"
"""The wheels of every locked dependency, inside the bundle: the instance installs from them alone
(`pip install --no-index`), so booting needs no package index and no route to the internet."""
WORKER_READY_HOOK_NAME = "worker-ready"
DRAIN_HOOK_NAME = "drain-on-termination"
SHUTDOWN_MARGIN_SECONDS = 60
"""Beyond the worker's grace period: systemd's stop timeout and the termination hook's heartbeat."""
WORKER_SETTLE_SECONDS = 30
"""How long the worker must run without a restart (its start-up checks exit 2 within seconds)."""
BOOTSTRAP_TIMEOUT_SECONDS = 1200
"""The launch hook's heartbeat: package installs, the download and the settle time fit well within it."""
IMDS = "http://169.254.169.254/latest"


def worker_environment(
    settings: PipelineSettings,
    fleet: FleetSettings,
    *,
    queue_url: str,
    dlq_url: str,
    index_bucket: str,
    region: str,
) -> dict[str, str]:
    """The worker's EnvironmentFile (docs/worker.md), from the same settings as the queue."""
    return {
        contract.QUEUE_URL: queue_url,
        contract.DLQ_URL: dlq_url,
        contract.PROCESSING_TIMEOUT_SECONDS: str(settings.max_processing_seconds),
        contract.METRIC_NAMESPACE: settings.metric_namespace,
        contract.INDEX_BUCKET: index_bucket,
        contract.INDEX_PREFIX: settings.index_prefix,
        contract.WORKER_CONCURRENCY: str(fleet.worker_concurrency),
        # A terminating instance lets its in-flight files finish: the grace covers the longest file.
        contract.SHUTDOWN_GRACE_SECONDS: str(settings.max_processing_seconds),
        contract.AWS_DEFAULT_REGION: region,
        # For the drain watcher (worker/drain.py): which lifecycle action to complete.
        contract.AUTOSCALING_GROUP_NAME: fleet.worker_group_name,
        contract.LIFECYCLE_HOOK_NAME: DRAIN_HOOK_NAME,
    }


def pip_install_arguments(install_dir: str) -> list[str]:
    """`pip install` from the bundle's wheelhouse only: every wheel checked against the lock's hashes, no
    index consulted, nothing built from source, no dependency the lock does not name."""
    return [
        "install",
        "--quiet",
        "--require-virtualenv",
        "--no-index",
        "--find-links",
        f"{install_dir}/{WHEELHOUSE}",
        "--require-hashes",
        "--no-deps",
        "--only-binary",
        ":all:",
        "-r",
        f"{install_dir}/{REQUIREMENTS_LOCK}",
    ]


def user_data_script(
    environment: dict[str, str], *, bundle_bucket: str, bundle_key: str, bundle_sha256: str
) -> str:
    """cloud-init user data: verify the bundle at its hash, install it and its hash-locked dependencies
    from its own wheelhouse, write the EnvironmentFile, start the services, and put the instance in
    service only once the worker runs. Shell variables are lower case, so the only KEY=value lines are
    the EnvironmentFile's. Nothing here needs the internet: the bundle comes from S3, python3.11 from
    Amazon Linux 2023's own repositories (S3 buckets in the region; /usr/bin/python3 is the system's
    3.9, https://docs.aws.amazon.com/linux/al2023/ug/python.html), the wheels from the bundle."""
    grace = int(environment[contract.SHUTDOWN_GRACE_SECONDS])
    region = shlex.quote(environment[contract.AWS_DEFAULT_REGION])
    group = shlex.quote(environment[contract.AUTOSCALING_GROUP_NAME])
    source = shlex.quote(f"s3://{bundle_bucket}/{bundle_key}")
    units = f"{SERVICE}.service {SERVICE}-drain.service"
    return f"""#!/bin/bash
# CIS file processor, worker bundle sha256={bundle_sha256}
# The instance waits in the launch lifecycle hook {WORKER_READY_HOOK_NAME} until the worker runs; any failure
# below marks it Unhealthy and abandons the launch, so a broken bundle never goes into service.
set -euo pipefail
region={region}
group={group}
instance_id=unknown
on_exit() {{
  local status=$?
  if [ "$status" -ne 0 ]; then
    echo "worker bootstrap failed (exit $status): instance $instance_id marked Unhealthy" >&2
    aws autoscaling set-instance-health --region "$region" --instance-id "$instance_id" \\
      --health-status Unhealthy --no-should-respect-grace-period || true
    aws autoscaling complete-lifecycle-action --region "$region" --auto-scaling-group-name "$group" \\
      --lifecycle-hook-name {WORKER_READY_HOOK_NAME} --instance-id "$instance_id" \\
      --lifecycle-action-result ABANDON || true
  fi
  exit "$status"
}}
trap on_exit EXIT
imds_token=$(curl -fsS -X PUT {IMDS}/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
instance_id=$(curl -fsS -H "X-aws-ec2-metadata-token: $imds_token" {IMDS}/meta-data/instance-id)
workdir=$(mktemp -d)
aws s3 cp --region "$region" {source} "$workdir/worker-bundle.tar.gz"
echo "{bundle_sha256}  $workdir/worker-bundle.tar.gz" | sha256sum --check --strict -
dnf install -y python3.11
id {SERVICE} >/dev/null 2>&1 || useradd --system --home-dir {INSTALL_DIR} --shell /sbin/nologin {SERVICE}
mkdir -p {INSTALL_DIR}
tar -xzf "$workdir/worker-bundle.tar.gz" -C {INSTALL_DIR}
python3.11 -m venv {INSTALL_DIR}/venv
{INSTALL_DIR}/venv/bin/pip {shlex.join(pip_install_arguments(INSTALL_DIR))}
{contract.environment_file_block(environment)}chmod 0640 {contract.ENVIRONMENT_FILE}
chgrp {SERVICE} {contract.ENVIRONMENT_FILE}
install -m 0644 {INSTALL_DIR}/worker/{SERVICE}.service /etc/systemd/system/{SERVICE}.service
install -m 0644 {INSTALL_DIR}/worker/{SERVICE}-drain.service /etc/systemd/system/{SERVICE}-drain.service
mkdir -p /etc/systemd/system/{SERVICE}.service.d
cat > /etc/systemd/system/{SERVICE}.service.d/stop-timeout.conf <<'OVERRIDE'
[Service]
TimeoutStopSec={grace + SHUTDOWN_MARGIN_SECONDS}
OVERRIDE
systemctl daemon-reload
systemctl enable --now {units}
sleep {WORKER_SETTLE_SECONDS}
systemctl is-active --quiet {units}
test "$(systemctl show --property NRestarts --value {SERVICE}.service)" = 0
rm -rf "$workdir"
aws autoscaling complete-lifecycle-action --region "$region" --auto-scaling-group-name "$group" \\
  --lifecycle-hook-name {WORKER_READY_HOOK_NAME} --instance-id "$instance_id" --lifecycle-action-result CONTINUE
"""
