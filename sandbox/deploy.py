"""Deploy a stack's data plane to a running local AWS: `python -m sandbox.deploy --endpoint URL [--stack NAME] [--json]`.

Renders the program under mocks (as `python -m preview` does), creates or converges its buckets,
queues, queue policies, bucket notification, alarms and the workers' launch template, Auto Scaling
group and lifecycle hooks at the endpoint through sandbox/data_plane.py, and prints the stack outputs
as deployed: the same keys `pulumi stack output` shows, with the endpoint's queue URLs and ARNs.
Outputs that name something not deployed locally (the alarm topic, the dashboard) are left out and
listed on stderr. Only loopback endpoints are accepted: this command is for moto server on this
machine, never for a real account.

Two local deviations, each said on stderr: the bucket policies' TLS-only statements are left out
(moto refuses every object request under them; the buckets are tagged so the audit reports it as
advisory), and the s3:TestEvent S3 sends when the notification is written is deleted, as the
workers would. `--worker-env` prints the worker's environment for the deployment, one KEY=value a
line (docs/local-walkthrough.md).

Exit codes: 0 deployed; 2 not deployed (the endpoint, the program or its stack is wrong), with one
message saying why.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from preview.entrypoint import run_command
from preview.project import ProjectError, load_project
from preview.render import DEFAULT_REGION, ProgramError, RenderedStack, render_program
from sandbox.data_plane import DataPlane, deploy, deployed_outputs, worker_environment_at
from sandbox.local_aws import client, clients
from worker import contract

REPO_ROOT = Path(__file__).resolve().parent.parent
EXIT_OK, EXIT_NOT_DEPLOYED = 0, 2
PROBE_TIMEOUT_SECONDS = 3


class DeployError(Exception):
    """Why nothing (or not everything) was deployed; the message is the whole story."""


def loopback_endpoint(url: str) -> str:
    """The endpoint URL without a trailing slash, or DeployError when it is malformed or not loopback."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as error:
        raise DeployError(f"--endpoint {url!r} is not a valid URL: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeployError(f"--endpoint {url!r} is not a valid URL: expected http://127.0.0.1:PORT")
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise DeployError(f"--endpoint {url!r}: give the endpoint only (scheme, host and port), no path")
    host = parts.hostname
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise DeployError(
            f"--endpoint {url!r}: {host} is not a loopback address; sandbox.deploy only deploys to a "
            "local AWS on this machine (127.0.0.1, ::1 or localhost), never to a remote endpoint"
        )
    netloc = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{netloc}" + (f":{port}" if port else "")


def check_answers(endpoint: str) -> None:
    """Any HTTP answer will do (moto answers / with 404 on some versions); silence is the error."""
    try:
        # No proxy: a loopback endpoint is reached directly, whatever HTTP_PROXY says.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        opener.open(endpoint + "/", timeout=PROBE_TIMEOUT_SECONDS).close()
    except urllib.error.HTTPError:
        return
    except (OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise DeployError(
            f"nothing answers at {endpoint} ({reason}); start a local AWS first, for example "
            f"`python -m moto.server -H 127.0.0.1 -p 5000`"
        ) from None


@dataclass
class Deployed:
    """What `deploy_stack` did: the outputs as deployed, those left out, the region and the plane."""

    outputs: dict[str, Any]
    left_out: list[str]
    region: str
    plane: DataPlane
    test_events_deleted: int = 0


def _stack(endpoint: str, program: Path, stack_name: str) -> tuple[RenderedStack, str]:
    """The rendered stack and its region, after checking the stack file and that the endpoint answers."""
    try:
        project = load_project(program)
    except ProjectError as error:
        raise DeployError(str(error)) from None
    stack_file = project.directory / f"Pulumi.{stack_name}.yaml"
    if not stack_file.exists():
        known = sorted(
            path.name[len("Pulumi.") : -len(".yaml")] for path in project.directory.glob("Pulumi.*.yaml")
        )
        raise DeployError(
            f"unknown stack {stack_name!r}: {project.directory} has no Pulumi.{stack_name}.yaml "
            f"(stacks: {', '.join(known) or 'none'})"
        )
    check_answers(endpoint)
    try:
        stack = render_program(program, stack_name)
    except (ProgramError, ProjectError) as error:
        raise DeployError(f"the program failed for stack {stack_name!r}: {error}") from None
    return stack, project.stack_config(stack_name).get("aws:region", DEFAULT_REGION)


def deploy_stack(endpoint: str, program: Path, stack_name: str, bucket_policies: bool = True) -> Deployed:
    """Deploy (or converge) the program's stack at `endpoint`, TLS-only bucket policy statements left out."""
    endpoint = loopback_endpoint(endpoint)
    stack, region = _stack(endpoint, program, stack_name)
    s3, sqs, cloudwatch = clients(endpoint, region)
    ec2, autoscaling = client(endpoint, "ec2", region), client(endpoint, "autoscaling", region)
    try:
        plane = deploy(
            stack,
            s3,
            sqs,
            cloudwatch,
            region,
            ec2=ec2,
            autoscaling=autoscaling,
            bucket_policies=bucket_policies,
            plain_http=True,
        )
        deleted = delete_test_events(sqs, plane)
    except ClientError as error:
        raise DeployError(_refused(endpoint, error)) from None
    except BotoCoreError as error:
        raise DeployError(f"the endpoint {endpoint} failed during the deployment: {error}") from None
    outputs, left_out = deployed_outputs(stack, plane)
    return Deployed(outputs, left_out, region, plane, deleted)


def delete_test_events(sqs: Any, plane: DataPlane) -> int:
    """Delete the s3:TestEvent S3 sent to each queue whose notification this deploy wrote, as a worker
    would (it deletes them unprocessed); any other message is handed straight back. S3 sends the test
    event on every notification write:
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-event-types-and-destinations.html
    """
    deleted = 0
    urls = {arn: url for url, arn in ((plane.queue_urls[n], plane.queue_arns[n]) for n in plane.queue_urls)}
    for arn in sorted(plane.notified_queues):
        url = urls.get(arn)
        if url is None:
            continue
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=5
        ).get("Messages", [])
        for message in messages:
            try:
                is_test = json.loads(message["Body"]).get("Event") == "s3:TestEvent"
            except (ValueError, AttributeError):
                is_test = False
            if is_test:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                deleted += 1
            else:
                sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
    return deleted


def worker_environment(endpoint: str, program: Path, stack_name: str) -> dict[str, str]:
    """The worker's environment for the stack as deployed at `endpoint` (read-only: deploy first)."""
    endpoint = loopback_endpoint(endpoint)
    stack, region = _stack(endpoint, program, stack_name)
    _, sqs, _ = clients(endpoint, region)
    try:
        environment = worker_environment_at(stack, sqs)
    except ClientError as error:
        raise DeployError(
            f"stack {stack_name!r} is not deployed at {endpoint} ({error.operation_name}: "
            f"{error.response.get('Error', {}).get('Code', '')}): run `python -m sandbox.deploy "
            f"--endpoint {endpoint} --stack {stack_name}` first"
        ) from None
    if not environment:
        raise DeployError(
            f"stack {stack_name!r} declares no worker environment (no launch template or function)"
        )
    environment.setdefault(contract.AWS_DEFAULT_REGION, region)
    environment["AWS_ENDPOINT_URL"] = endpoint
    return environment


def _refused(endpoint: str, error: ClientError) -> str:
    code = error.response.get("Error", {}).get("Code", "")
    operation = error.operation_name
    if code in ("QueueAlreadyExists", "QueueNameExists"):
        return (
            f"{endpoint} already holds a queue of that name with other attributes ({operation}: {error}); "
            "a re-deploy of the same stack is fine, a changed one needs a fresh endpoint (restart moto server)"
        )
    if code == "BucketAlreadyExists":
        return f"{endpoint} refused a bucket name another owner holds ({operation}: {error})"
    return f"{endpoint} refused the deployment ({operation}, {code}): {error}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.deploy", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--endpoint", required=True, help="the local AWS endpoint, e.g. http://127.0.0.1:5000"
    )
    parser.add_argument("--stack", default="production", help="stack name; its config is Pulumi.<stack>.yaml")
    parser.add_argument("--program", type=Path, default=REPO_ROOT, help="Pulumi Python program directory")
    parser.add_argument(
        "--no-bucket-policies",
        action="store_true",
        help="leave the bucket policies out (their TLS-only deny refuses uploads over a plain-HTTP endpoint)",
    )
    parser.add_argument("--json", action="store_true", help="print the outputs as one JSON object")
    parser.add_argument(
        "--worker-env",
        action="store_true",
        help="print the worker's environment for the deployed stack, one KEY=value a line (deploys nothing)",
    )
    options = parser.parse_args(argv)
    try:
        if options.worker_env:
            environment = worker_environment(options.endpoint, options.program, options.stack)
            print(contract.environment_file(environment))
            return EXIT_OK
        deployed = deploy_stack(
            options.endpoint, options.program, options.stack, bucket_policies=not options.no_bucket_policies
        )
    except DeployError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_NOT_DEPLOYED
    for line in report_lines(options, deployed):
        print(line, file=sys.stderr)
    outputs = deployed.outputs
    if options.json:
        print(json.dumps(outputs, ensure_ascii=False))
    else:
        width = max((len(key) for key in outputs), default=0)
        for key, value in outputs.items():
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            print(f"{key:<{width}}  {shown}")
    return EXIT_OK


def report_lines(options: argparse.Namespace, deployed: Deployed) -> list[str]:
    """What the deploy did beyond the outputs, for stderr: the local deviations above all."""
    lines = [f"deployed stack {options.stack} (region {deployed.region}) to {options.endpoint}"]
    for bucket, sids in sorted(deployed.plane.left_out_statements.items()):
        lines.append(
            f"plain-HTTP uploads: bucket {bucket}'s policy statement(s) {', '.join(sids)} left out "
            "(moto refuses every object request under a TLS-only deny; the audit reports it as advisory)"
        )
    if options.no_bucket_policies:
        lines.append("bucket policies removed (--no-bucket-policies): the audit fails on them")
    if deployed.test_events_deleted:
        lines.append(f"deleted {deployed.test_events_deleted} s3:TestEvent message(s), as the workers would")
    if deployed.left_out:
        lines.append(f"not deployed locally, so not shown: {', '.join(deployed.left_out)}")
    return lines


if __name__ == "__main__":
    run_command(main, "python -m sandbox.deploy")
