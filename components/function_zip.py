"""The Lambda deployment package: `worker/` as a reproducible zip, the same files the EC2 bundle carries
minus the systemd units, so both modes run one processing core.

Entries are sorted, dated 1980-01-01 (the zip epoch), mode 0644, deflated at a fixed level: the same
source gives byte-for-byte the same zip, so its SHA-256 (the stack's consumerArtifactSha256) changes
exactly when a worker file does. The function's handler imports `worker.lambda_handler`, so the entries
live under `worker/`. The runtime's own boto3 is used (the zip carries no dependencies), as the Lambda
Python runtime includes the AWS SDK: https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

from components.worker_bundle import bundle_files

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
"""The earliest timestamp a zip entry can carry: fixed, so the archive does not depend on file mtimes."""
FILE_MODE = 0o100644
"""A regular file, rw-r--r--: Lambda needs the files readable by the runtime user, nothing more."""
SYSTEMD_SUFFIXES = {".service", ".timer", ".socket"}
"""The EC2 host's units: meaningless in Lambda."""


def function_files(source_dir: Path) -> list[Path]:
    """The worker bundle's files (no caches, no bytecode) without the systemd units, sorted."""
    return [path for path in bundle_files(source_dir) if path.suffix not in SYSTEMD_SUFFIXES]


def build_function_zip(source_dir: Path) -> bytes:
    """A deterministic zip of `source_dir`, its entries under `worker/`."""
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, mode="w") as archive:
        for path in function_files(source_dir):
            info = zipfile.ZipInfo(f"worker/{path.relative_to(source_dir).as_posix()}", date_time=ZIP_EPOCH)
            info.external_attr = FILE_MODE << 16
            info.create_system = 3  # Unix, so the mode above is what unzip and Lambda read
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    return raw.getvalue()


def sha256_hex(data: bytes) -> str:
    """The archive's SHA-256 as hex: the form the EC2 bundle's hash takes in the stack outputs."""
    return hashlib.sha256(data).hexdigest()
