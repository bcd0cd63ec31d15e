"""Deploy a stack's data plane to a running local AWS: `python -m sandbox.deploy --endpoint URL [--stack NAME] [--json]`.

Renders the program under mocks (as `python -m preview` does), creates its buckets, queues, queue
policies, bucket notification and alarms at the endpoint through sandbox/data_plane.py, and prints
the stack outputs as deployed: the same keys `pulumi stack output` shows, with the endpoint's queue
URLs and ARNs. Outputs that name something not deployed locally (the worker fleet, the alarm topic,
the dashboard) are left out and listed on stderr. Only loopback endpoints are accepted: this command
is for moto server on this machine, never for a real account.

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
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from preview.entrypoint import run_command
from preview.project import ProjectError, load_project
from preview.render import DEFAULT_REGION, ProgramError, render_program
from sandbox.data_plane import deploy, deployed_outputs
from sandbox.local_aws import clients

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


def deploy_stack(
    endpoint: str, program: Path, stack_name: str, bucket_policies: bool = True
) -> tuple[dict[str, Any], list[str], str]:
    """(outputs as deployed, outputs left out, region) of the program's stack deployed at `endpoint`."""
    endpoint = loopback_endpoint(endpoint)
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
    region = project.stack_config(stack_name).get("aws:region", DEFAULT_REGION)
    s3, sqs, cloudwatch = clients(endpoint, region)
    try:
        plane = deploy(stack, s3, sqs, cloudwatch, region, bucket_policies=bucket_policies)
    except ClientError as error:
        raise DeployError(_refused(endpoint, error)) from None
    except BotoCoreError as error:
        raise DeployError(f"the endpoint {endpoint} failed during the deployment: {error}") from None
    outputs, left_out = deployed_outputs(stack, plane)
    return outputs, left_out, region


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
    options = parser.parse_args(argv)
    try:
        outputs, left_out, region = deploy_stack(
            options.endpoint, options.program, options.stack, bucket_policies=not options.no_bucket_policies
        )
    except DeployError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_NOT_DEPLOYED
    print(f"deployed stack {options.stack} (region {region}) to {options.endpoint}", file=sys.stderr)
    if left_out:
        print(f"not deployed locally, so not shown: {', '.join(left_out)}", file=sys.stderr)
    if options.json:
        print(json.dumps(outputs, ensure_ascii=False))
    else:
        width = max((len(key) for key in outputs), default=0)
        for key, value in outputs.items():
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            print(f"{key:<{width}}  {shown}")
    return EXIT_OK


if __name__ == "__main__":
    run_command(main, "python -m sandbox.deploy")
