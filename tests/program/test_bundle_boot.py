"""Boot from the bundle alone: the worker bundle carries a wheel for every locked dependency, the user
data installs them with `pip install --no-index`, and the bundle's hash follows its contents."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from components.function_zip import function_files
from components.host_bootstrap import pip_install_arguments
from components.worker_bundle import build_bundle
from tests.paths import REPO_ROOT
from tests.program.test_fleet import user_data

WORKER = REPO_ROOT / "worker"
WHEELHOUSE = WORKER / "wheelhouse"


def locked() -> dict[str, set[str]]:
    """Normalised project name -> the sha256 hashes requirements.lock allows for it."""
    text = (WORKER / "requirements.lock").read_text().replace("\\\n", " ")
    found = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==\S+", line)
        if match:
            found[normalise(match.group(1))] = set(re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
    return found


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_wheelhouse_holds_exactly_one_locked_wheel_per_locked_package():
    wheels = sorted(WHEELHOUSE.glob("*.whl"))
    by_name = {normalise(wheel.name.split("-")[0]): wheel for wheel in wheels}
    assert len(by_name) == len(wheels), "two wheels of one package"
    assert set(by_name) == set(locked())
    for name, wheel in by_name.items():
        assert hashlib.sha256(wheel.read_bytes()).hexdigest() in locked()[name], (
            f"{wheel.name}: not the locked build"
        )


def test_every_wheel_runs_on_the_fleets_platform():
    """Pure-Python wheels run on x86_64 and arm64 alike; a compiled one must match the AMI's architecture."""
    for wheel in WHEELHOUSE.glob("*.whl"):
        platform = wheel.stem.rsplit("-", 1)[1]
        assert platform == "any" or "x86_64" in platform, wheel.name


def test_the_user_data_installs_nothing_from_a_package_index(production):
    script = user_data(production)
    installs = [line for line in script.splitlines() if re.search(r"\bpip3? install\b", line)]
    assert installs and all(
        "--no-index" in line and "--find-links /opt/file-processor/worker/wheelhouse" in line
        for line in installs
    )
    assert "pypi" not in script.lower() and "--index-url" not in script


def test_the_function_zip_does_not_carry_the_instances_wheels():
    assert not any(path.suffix == ".whl" for path in function_files(WORKER))


def test_the_bundle_hash_changes_when_and_only_when_its_contents_do(tmp_path):
    source = tmp_path / "worker"
    shutil.copytree(WORKER, source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    first = hashlib.sha256(build_bundle(source)).hexdigest()
    (source / "__pycache__").mkdir(exist_ok=True)
    (source / "__pycache__" / "x.pyc").write_bytes(b"cache")
    os.utime(source / "requirements.lock", (0, 0))
    assert hashlib.sha256(build_bundle(source)).hexdigest() == first  # caches and mtimes are not contents
    wheel = next(source.glob("wheelhouse/six-*.whl"))
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    assert hashlib.sha256(build_bundle(source)).hexdigest() != first


@pytest.mark.slow
def test_the_bundle_installs_into_a_fresh_virtualenv_without_an_index_and_the_worker_starts(tmp_path):
    """What the instance does, offline: unpack, venv, pip install --no-index from the bundle, run."""
    install_dir = tmp_path / "file-processor"
    with tarfile.open(fileobj=io.BytesIO(build_bundle(WORKER)), mode="r:gz") as archive:
        archive.extractall(install_dir, filter="data")
    subprocess.run([sys.executable, "-m", "venv", str(install_dir / "venv")], check=True, timeout=300)
    python = install_dir / "venv" / "bin" / "python"
    # no pip configuration, no index or find-links from this machine's environment
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("PIP_", "PYTHON"))}
    environment["PIP_CONFIG_FILE"] = os.devnull
    subprocess.run(
        [str(python), "-m", "pip", *pip_install_arguments(str(install_dir))],
        check=True,
        timeout=600,
        env=environment,
        cwd=install_dir,
    )
    # `python -m worker --help` is not on this branch yet: import the consumer, then start the worker
    # with no settings, which must fail its start-up check (exit 2, one JSON line), not an import
    imported = subprocess.run(
        [
            str(python),
            "-c",
            "import boto3, pypdf, worker.consumer; print(worker.consumer.__file__, boto3.__file__)",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        cwd=install_dir,
    )
    assert imported.returncode == 0, imported.stderr
    consumer_file, boto3_file = imported.stdout.split()
    assert Path(consumer_file).is_relative_to(install_dir / "worker")
    assert Path(boto3_file).is_relative_to(install_dir / "venv")
    started = subprocess.run(
        [str(python), "-m", "worker"],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        cwd=install_dir,
    )
    assert started.returncode == 2, started.stderr
    [line] = [line for line in started.stderr.splitlines() if line.strip()] or [started.stdout.strip()]
    assert json.loads(line)["error"] == "ConfigurationError"
