"""Credentials and region for every command: local placeholders on a loopback endpoint, one line otherwise.

A local AWS (moto server on 127.0.0.1) accepts any signed request, so a newcomer should not have to
invent keys or a region to talk to it. Against AWS itself a missing credential or region must be one
line naming what to set, not botocore's `Unable to locate credentials` or `NoRegionError`. boto3 reads
both from the environment and the shared files
(https://boto3.amazonaws.com/v1/documentation/api/latest/guide/credentials.html,
https://boto3.amazonaws.com/v1/documentation/api/latest/guide/configuration.html).
Imports nothing from the other parts, so the worker, audit, dlq and sandbox all use it.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import MutableMapping
from urllib.parse import urlsplit

ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL"
PLACEHOLDER_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local-placeholder",
    "AWS_SECRET_ACCESS_KEY": "local-placeholder",
}
PLACEHOLDER_REGION = "us-east-1"
"""Only when nothing names a region: moto keeps each region's resources apart, so callers that know
the deployment's region (the stack, a queue ARN) pass it instead."""
REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")
CREDENTIALS_FIX = (
    "set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), "
    "or AWS_ENDPOINT_URL=http://127.0.0.1:PORT for a local AWS"
)
REGION_FIX = "set AWS_REGION (e.g. AWS_REGION=ap-northeast-1)"


class AwsSetupError(Exception):
    """No credentials or no region for AWS itself; the message is one line naming what to set."""


def is_loopback_url(url: str | None) -> bool:
    """True for http(s)://127.x.x.x, [::1] or localhost URLs (a local AWS on this machine)."""
    if not url:
        return False
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _has_credentials(profile: str | None) -> bool:
    """Whether boto3's chain finds credentials without asking the instance metadata service (slow off EC2)."""
    import botocore.session

    session = botocore.session.Session(profile=profile)
    resolver = session.get_component("credential_provider")
    for method in ("iam-role", "container-role"):
        try:
            resolver.remove(method)
        except (KeyError, ValueError):
            pass
    try:
        return resolver.load_credentials() is not None
    except Exception:  # noqa: BLE001 - a broken profile is "no credentials" here; boto3 says why later
        return False


def _configured_region(environ: MutableMapping[str, str]) -> str | None:
    import botocore.session

    if any(environ.get(name) for name in REGION_VARIABLES):
        return next(environ[name] for name in REGION_VARIABLES if environ.get(name))
    try:
        return botocore.session.Session(profile=environ.get("AWS_PROFILE")).get_config_variable("region")
    except Exception:  # noqa: BLE001 - an unreadable config file names no region
        return None


def use_local_placeholders(
    region: str | None = None,
    environ: MutableMapping[str, str] | None = None,
    endpoint: str | None = None,
) -> str | None:
    """On a loopback AWS_ENDPOINT_URL (or `endpoint`), fill in placeholder credentials and a region
    where none are configured (in `environ`, default os.environ, so every boto3 session sees them);
    returns the one line to tell the user, or None when nothing was filled in or the endpoint is not
    loopback. `region`: the deployment's region, used when none is configured."""
    environ = os.environ if environ is None else environ
    endpoint = endpoint or environ.get(ENDPOINT_VARIABLE)
    if not is_loopback_url(endpoint):
        return None
    filled = []
    if not _has_credentials(environ.get("AWS_PROFILE")):
        environ.update(PLACEHOLDER_CREDENTIALS)
        filled.append("credentials")
    if not _configured_region(environ):
        environ["AWS_DEFAULT_REGION"] = region or PLACEHOLDER_REGION
        filled.append(f"region {environ['AWS_DEFAULT_REGION']}")
    if not filled:
        return None
    return f"note: {endpoint} is a local AWS: using local placeholder {' and '.join(filled)}"


def require_aws_settings(region: str | None = None, environ: MutableMapping[str, str] | None = None) -> None:
    """Against AWS (no loopback endpoint): raise AwsSetupError naming what to set when boto3 would find
    no credentials (the full chain, instance role included) or no region (`region` given counts)."""
    import boto3

    environ = os.environ if environ is None else environ
    if is_loopback_url(environ.get(ENDPOINT_VARIABLE)):
        return
    if not region and not _configured_region(environ):
        raise AwsSetupError(f"no AWS region configured: {REGION_FIX}")
    if boto3.session.Session().get_credentials() is None:
        raise AwsSetupError(f"no AWS credentials found: {CREDENTIALS_FIX}")


PLAIN_HTTP_TAG = "sandbox:plain-http-left-out"
"""The bucket tag `python -m sandbox.deploy` writes when it left a bucket policy's TLS-only statements
out for a plain-HTTP local endpoint (value: their Sids, space-separated); the audit reads it there."""
