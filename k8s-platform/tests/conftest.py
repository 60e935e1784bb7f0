"""Shared helpers: the example pipeline, strict Kubernetes validation, helm and promtool.

The helm and promtool binaries are the ones `make setup-tools` builds from their Go modules
(their paths come from the Makefile as $HELM and $PROMTOOL). A missing binary fails the
test that needs it with the command to run; nothing is skipped.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from k8s_platform import builders

# The operator of the cluster tests (test_cluster.py) checks drift every 3 s, after 1 s
# without changes (the chart's defaults: 60 s and 10 s). Read when handlers is imported.
os.environ.setdefault("ETL_RECONCILE_INTERVAL", "3")
os.environ.setdefault("ETL_RECONCILE_IDLE", "1")

ROOT = Path(__file__).resolve().parents[1]
CHART = ROOT / "charts" / "etl-pipeline"
CRD_FILE = CHART / "crds" / "etl.example.com_etlpipelines.yaml"
EXAMPLES = ROOT / "examples"


def tool(env_name: str, name: str) -> str:
    path = os.environ.get(env_name) or shutil.which(name)
    if not path or not Path(path).is_file():
        pytest.fail(
            f"{name} not found ({env_name}={path!r}): run `make setup-tools` (builds it from its Go module)"
        )
    return path


def validate_k8s(obj: dict[str, Any]) -> None:
    """Strict validation against the Kubernetes OpenAPI schemas of the target version."""
    kubernetes_validate.validate(obj, builders.TARGET_K8S_VERSION, strict=True)


def crd_schema() -> dict[str, Any]:
    crd = yaml.safe_load(CRD_FILE.read_text())
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def pipeline(
    spec: dict[str, Any] | None = None,
    *,
    name: str = "flights-daily",
    generation: int = 1,
    status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An EtlPipeline as the API server returns it (metadata with uid and generation)."""
    base = yaml.safe_load((EXAMPLES / "flights-daily.yaml").read_text())
    body = copy.deepcopy(base)
    body["metadata"].update(
        namespace="etl",
        name=name,
        uid="5f1c9d7e-0000-4000-8000-000000000001",
        generation=generation,
        creationTimestamp="2026-01-01T00:00:00Z",
    )
    if spec is not None:
        body["spec"] = spec
    if status is not None:
        body["status"] = status
    return body


@pytest.fixture
def example() -> dict[str, Any]:
    return pipeline()


def helm_template(
    *sets: str, values: dict[str, Any] | None = None, tmp_path: Path | None = None
) -> list[dict[str, Any]]:
    """`helm template` of the chart; returns the rendered objects."""
    cmd = [
        tool("HELM", "helm"),
        "template",
        "etl",
        str(CHART),
        "--namespace",
        "etl",
        "--kube-version",
        builders.TARGET_K8S_VERSION,
    ]
    for s in sets:
        cmd += ["--set", s]
    if values is not None:
        assert tmp_path is not None
        f = tmp_path / "values.yaml"
        f.write_text(yaml.safe_dump(values))
        cmd += ["--values", str(f)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]
