"""The Lambda deployment package: `worker/` as a reproducible zip, the same files the EC2 bundle carries
minus the systemd units, so both modes run one processing core.

Entries are sorted, dated 1980-01-01 (the zip epoch), mode 0644, deflated at a fixed level: the same
source gives byte-for-byte the same zip, so its SHA-256 (the stack's consumerArtifactSha256) changes
exactly when a worker file does. The function's handler imports `worker.lambda_handler`, so the entries
live under `worker/`. The runtime's own boto3 is used, as the Lambda Python runtime includes the AWS
SDK (https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html); the worker's other dependency,
pypdf (pure Python, no dependencies of its own on Python >= 3.11), is vendored at the zip's root at
the version worker/requirements.txt pins, taken from the environment that runs the program (the
program's requirements.txt installs it), so PDFs are indexed in lambda mode as on EC2.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import re
import zipfile
from pathlib import Path

from components.worker_bundle import bundle_files

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
"""The earliest timestamp a zip entry can carry: fixed, so the archive does not depend on file mtimes."""
FILE_MODE = 0o100644
"""A regular file, rw-r--r--: Lambda needs the files readable by the runtime user, nothing more."""
SYSTEMD_SUFFIXES = {".service", ".timer", ".socket"}
"""The EC2 host's units: meaningless in Lambda."""
WHEELHOUSE_DIR = "wheelhouse"
"""The EC2 instances' wheels (components/host_bootstrap.py): not part of the function."""


def function_files(source_dir: Path) -> list[Path]:
    """The worker bundle's files (no caches, no bytecode) without the systemd units and the instances'
    wheelhouse (the runtime has boto3; pypdf is vendored below), sorted."""
    return [
        path
        for path in bundle_files(source_dir)
        if path.suffix not in SYSTEMD_SUFFIXES
        and WHEELHOUSE_DIR not in path.relative_to(source_dir).parts[:1]
    ]


VENDORED = ("pypdf",)
"""Distributions the zip carries beside `worker/` (the runtime provides boto3 and botocore)."""


class PackagingError(RuntimeError):
    """A vendored dependency is missing or not the pinned version; the message says how to fix it."""


def pinned_version(source_dir: Path, distribution: str) -> str:
    """The `name==version` pin of `distribution` in the worker's requirements.txt."""
    requirements = (source_dir / "requirements.txt").read_text()
    match = re.search(rf"^{re.escape(distribution)}==(\S+)", requirements, flags=re.MULTILINE | re.IGNORECASE)
    if not match:
        raise PackagingError(f"{source_dir / 'requirements.txt'} pins no {distribution}==<version>")
    return match.group(1)


def vendored_files(source_dir: Path) -> list[tuple[str, Path]]:
    """(entry name, file) of each vendored distribution's importable files, at the pinned version."""
    found: list[tuple[str, Path]] = []
    for name in VENDORED:
        pin = pinned_version(source_dir, name)
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise PackagingError(
                f"the function zip vendors {name}=={pin}, which is not installed where the program runs; "
                "install the program's requirements.txt (it includes worker/requirements.txt)"
            ) from None
        if distribution.version != pin:
            raise PackagingError(
                f"the function zip vendors {name}=={pin} (worker/requirements.txt), but {name} "
                f"{distribution.version} is installed; install the program's requirements.txt again"
            )
        for file in distribution.files or []:
            parts = file.parts
            if ".dist-info" in parts[0] or "__pycache__" in parts or file.suffix == ".pyc":
                continue
            found.append((file.as_posix(), Path(str(file.locate()))))
    return sorted(found)


def build_function_zip(source_dir: Path) -> bytes:
    """A deterministic zip: `source_dir` under `worker/`, the vendored dependencies at the root."""
    entries = [
        (f"worker/{path.relative_to(source_dir).as_posix()}", path) for path in function_files(source_dir)
    ]
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, mode="w") as archive:
        for name, path in sorted(entries + vendored_files(source_dir)):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.external_attr = FILE_MODE << 16
            info.create_system = 3  # Unix, so the mode above is what unzip and Lambda read
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    return raw.getvalue()


def sha256_hex(data: bytes) -> str:
    """The archive's SHA-256 as hex: the form the EC2 bundle's hash takes in the stack outputs."""
    return hashlib.sha256(data).hexdigest()
