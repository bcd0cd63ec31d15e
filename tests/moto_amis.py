"""moto's EC2 with its default AMIs only, not the per-region catalogue of the latest ones.

Every new EC2 backend (one per region, again after each reset: the audit and drill tests reset moto
before each deployment) loads the 44 default AMIs and then, unless `MOTO_AMIS_PATH` names an AMI
file, each region's "latest" AMIs as well: about a third of the audit tests' CPU. The sandbox's
launch template uses a default one (sandbox/data_plane.py, LOCAL_IMAGE_ID); the latest ones nobody
reads. So the tests point `MOTO_AMIS_PATH` at the default AMIs, written out from moto's own copy
(it ships gzipped; the variable wants plain JSON). An AMI file set by the caller is kept.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import moto
from moto.utilities.utils import load_resource


def default_amis_only() -> None:
    """Before moto.ec2 is imported (it reads the variable at import)."""
    if "moto.ec2.models.amis" in sys.modules:
        raise RuntimeError(
            "default_amis_only() runs before moto.ec2 is imported: it reads MOTO_AMIS_PATH then"
        )
    if "MOTO_AMIS_PATH" in os.environ:
        return
    path = Path(tempfile.gettempdir()) / f"moto-{moto.__version__}-default-amis.json"
    if not path.exists():  # written whole, then renamed: xdist workers may race here
        partial = path.with_name(f"{path.name}.{os.getpid()}")
        partial.write_text(json.dumps(load_resource("ec2/resources/amis.json")), encoding="utf-8")
        partial.replace(path)
    os.environ["MOTO_AMIS_PATH"] = str(path)
