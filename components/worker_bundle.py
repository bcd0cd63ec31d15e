"""The worker's service bundle: `worker/` packed into a reproducible archive named by its hash.

It carries the worker's dependencies too: `worker/wheelhouse/` holds a wheel for every entry of
`worker/requirements.lock` (`make wheelhouse` refreshes it, hash-checked), so an instance installs them
with `pip install --no-index` and boots without a package index (components/host_bootstrap.py).

The same source gives byte-for-byte the same archive (sorted entries, fixed timestamps and owners,
gzip without a timestamp), so its SHA-256 changes exactly when a worker file changes. The launch
template's user data names that hash, so a worker change is a new launch template version, which
is what rolls the fleet (canary first) on `pulumi up`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.build_files import write_build_file
from components.private_bucket import PrivateBucket, PrivateBucketArgs
from components.settings import FleetSettings

BUNDLE_PREFIX = "worker-bundles/"
EXCLUDED_PARTS = {"__pycache__", ".pytest_cache"}
EXCLUDED_SUFFIXES = {".pyc", ".pyo", ".swp", ".swo"}


def _packed(relative: Path) -> bool:
    """Not a cache, and not a hidden or editor file (`.env`, `.DS_Store`, `indexer.py~`): those are local,
    so packing them would ship a developer's secrets and make one checkout's hash differ from another's."""
    return not (
        EXCLUDED_PARTS & set(relative.parts)
        or any(part.startswith(".") for part in relative.parts)
        or relative.suffix in EXCLUDED_SUFFIXES
        or relative.name.endswith("~")
    )


def bundle_files(source_dir: Path) -> list[Path]:
    """The files that make up the worker: code, systemd units, the hash-locked requirements (no caches).

    Judged on the path inside `source_dir`, so where the checkout lives does not matter.
    """
    return sorted(
        path for path in source_dir.rglob("*") if path.is_file() and _packed(path.relative_to(source_dir))
    )


def build_bundle(source_dir: Path) -> bytes:
    """A deterministic .tar.gz of `source_dir`, its entries under `worker/`."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in bundle_files(source_dir):
            data = path.read_bytes()
            info = tarfile.TarInfo(name=f"worker/{path.relative_to(source_dir).as_posix()}")
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            archive.addfile(info, io.BytesIO(data))
    # Stored, not deflated: the wheels are zip files already (deflating 18 MB saved 0.1 % and cost
    # half a second of every render); the result is still a gzip stream that `tar -xzf` reads.
    compressed = io.BytesIO()
    with gzip.GzipFile(fileobj=compressed, mode="wb", mtime=0, compresslevel=0) as gz:
        gz.write(raw.getvalue())
    return compressed.getvalue()


@dataclass
class WorkerBundleArgs:
    fleet: FleetSettings
    """The fleet's validated settings: the artifacts bucket's name."""
    source_dir: Path
    """The worker package directory (worker/): code, systemd units, requirements.lock."""
    build_dir: Path
    """Where the archive is written before upload (git-ignored)."""


class WorkerBundle(pulumi.ComponentResource):
    """Uploads the bundle to a private, encrypted, versioned artifacts bucket, keyed by its SHA-256."""

    sha256: str
    key: str
    bucket: aws.s3.Bucket

    def __init__(self, name: str, args: WorkerBundleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cis:fleet:WorkerBundle", name, None, opts)
        archive = build_bundle(args.source_dir)
        self.sha256 = hashlib.sha256(archive).hexdigest()
        self.key = f"{BUNDLE_PREFIX}{self.sha256}.tar.gz"
        archive_path = args.build_dir / f"worker-{self.sha256}.tar.gz"
        write_build_file(archive_path, archive)

        self.bucket = PrivateBucket(
            "artifacts",
            PrivateBucketArgs(bucket_name=args.fleet.artifacts_bucket_name),
            opts=pulumi.ResourceOptions(parent=self),
        ).bucket
        self.object = aws.s3.BucketObjectv2(
            f"{name}-archive",
            bucket=self.bucket.id,
            key=self.key,
            source=pulumi.FileAsset(str(archive_path)),
            content_type="application/gzip",
            server_side_encryption="AES256",
            metadata={"sha256": self.sha256},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"sha256": self.sha256, "key": self.key, "bucket": self.bucket.bucket})
