"""The audit's AWS clients: one endpoint checked before use, short timeouts, few retries.

An audit run during an incident must answer in seconds or say why it cannot. botocore's defaults
(60 s connect, 60 s read, up to 5 attempts) turn an endpoint that accepts connections and never
answers into minutes of silence; here each call waits `timeout_seconds` at most per attempt, with
`ATTEMPTS` attempts in botocore's standard retry mode
(https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

SERVICES = ("s3", "sqs", "cloudwatch", "autoscaling", "lambda")
DEFAULT_TIMEOUT_SECONDS = 10.0
ATTEMPTS = 2
"""The first call and one retry: botocore's `total_max_attempts` (its `max_attempts` counts retries only)."""


class EndpointError(ValueError):
    """The endpoint named in the environment is not a URL boto3 can call."""


@dataclass(frozen=True)
class Clients:
    s3: Any
    sqs: Any
    cloudwatch: Any
    autoscaling: Any
    lambda_: Any
    """Lambda (the function and its event source mapping in lambda mode)."""
    endpoint_url: str | None
    """The endpoint override in use (AWS_ENDPOINT_URL), None for AWS itself."""


def endpoint_overrides(environment: dict[str, str] | None = None) -> dict[str, str]:
    """Variable name -> URL for AWS_ENDPOINT_URL and the per-service AWS_ENDPOINT_URL_<SERVICE> the audit uses."""
    environment = dict(os.environ if environment is None else environment)
    names = ["AWS_ENDPOINT_URL", *(f"AWS_ENDPOINT_URL_{service.upper()}" for service in SERVICES)]
    return {name: environment[name] for name in names if environment.get(name)}


def check_endpoint(variable: str, url: str) -> None:
    """Raise EndpointError with one line naming the variable when `url` is not an http(s) URL with a host."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError when out of range or not a number
    except ValueError as error:
        raise EndpointError(f"{variable}={url!r} is not a valid endpoint URL ({error})") from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointError(
            f"{variable}={url!r} is not a valid endpoint URL (expected http(s)://host[:port], e.g. http://127.0.0.1:5000)"
        )
    del port


def connect(region: str, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> Clients:
    """Clients for the audit's five services in `region`, after checking any endpoint override."""
    overrides = endpoint_overrides()
    for variable, url in overrides.items():
        check_endpoint(variable, url)
    config = Config(
        connect_timeout=timeout_seconds,
        read_timeout=timeout_seconds,
        retries={"mode": "standard", "total_max_attempts": ATTEMPTS},
    )
    session = boto3.session.Session(region_name=region)
    try:
        made = {
            ("lambda_" if name == "lambda" else name): session.client(name, config=config)
            for name in SERVICES
        }
    except ValueError as error:  # botocore's own endpoint validation
        raise EndpointError(f"the endpoint is not valid: {error}") from error
    return Clients(**made, endpoint_url=overrides.get("AWS_ENDPOINT_URL"))
