"""The deploy tests' shared checks (etl_shared.testing.deploy): pod hardening and parity."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from etl_shared.testing.deploy import (
    assert_pod_hardened,
    assert_same_as_bare_steps,
    bare_steps_checksums,
    pod_hardening_problems,
    save_pod_spec,
)
from etl_shared.testing.landing import SAMPLE_DAYS

HARDENED: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "run", "namespace": "etl"},
    "spec": {
        "restartPolicy": "Never",
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001},
        "containers": [
            {
                "name": "main",
                "image": "etl:1",
                "args": ["etl", "run"],
                "env": [
                    {
                        "name": "AIRFLOW_CONN_ETL_WAREHOUSE",
                        "valueFrom": {
                            "secretKeyRef": {"name": "etl-warehouse", "key": "WAREHOUSE_URL"}
                        },
                    }
                ],
                "securityContext": {
                    "readOnlyRootFilesystem": True,
                    "allowPrivilegeEscalation": False,
                },
            }
        ],
    },
}


def test_hardened_pod_passes() -> None:
    assert pod_hardening_problems(HARDENED) == []
    assert_pod_hardened(HARDENED, secret_values=["postgresql://etl:secret@db/warehouse"])


def test_envfrom_secret_ref_counts_as_the_secret() -> None:
    pod = copy.deepcopy(HARDENED)
    (container,) = pod["spec"]["containers"]
    container["env"] = []
    container["envFrom"] = [{"secretRef": {"name": "etl-warehouse"}}]
    assert pod_hardening_problems(pod) == []


def test_unhardened_pod_fails_naming_each_problem() -> None:
    pod = copy.deepcopy(HARDENED)
    pod["spec"]["securityContext"] = {"runAsUser": 0}
    (container,) = pod["spec"]["containers"]
    container["securityContext"] = {"readOnlyRootFilesystem": False}
    container["env"] = [{"name": "WAREHOUSE_URL", "value": "postgresql://etl:pw@db/warehouse"}]
    container["resourcez"] = {}  # not a field of a container: the strict schema refuses it
    problems = "\n".join(pod_hardening_problems(pod))
    for expected in (
        "schema",
        "runAsUser is 0",
        "allowPrivilegeEscalation",
        "readOnlyRootFilesystem",
        "WAREHOUSE_URL is a literal value",
        "does not come from the Secret 'etl-warehouse'",
    ):
        assert expected in problems, problems
    with pytest.raises(AssertionError, match="is not hardened"):
        assert_pod_hardened(pod)
    # where the tool cannot mount the root read-only, that one check is left out
    assert "readOnlyRootFilesystem" not in "\n".join(
        pod_hardening_problems(pod, read_only_root=False)
    )


def test_a_secret_value_in_the_manifest_fails() -> None:
    with pytest.raises(AssertionError, match="Secret's value"):
        assert_pod_hardened(HARDENED, secret_values=["etl-warehouse"])


def test_pod_spec_is_saved_under_reports_k8s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETL_REPORTS_DIR", str(tmp_path))
    path = save_pod_spec(HARDENED, platform="cli", name="pod")
    assert path == tmp_path / "k8s" / "cli-pod.json"
    assert json.loads(path.read_text()) == HARDENED


def test_parity_with_the_bare_steps(
    seeded_landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bare steps equal themselves; a warehouse missing a row does not."""
    monkeypatch.setenv("ETL_REPORTS_DIR", str(tmp_path))
    day = SAMPLE_DAYS[0]
    from etl_shared.config import Settings
    from etl_shared.runner import run_partitions
    from etl_shared.warehouse import open_warehouse

    url = f"duckdb:///{tmp_path / 'platform.duckdb'}"
    settings = Settings(landing_dir=seeded_landing, warehouse_url=url, staging_dir=tmp_path / "s")
    (result,) = run_partitions([day], settings=settings, platform="cli", attempts=1)
    assert result.ok
    got = assert_same_as_bare_steps(url, day, seeded_landing, platform="cli")
    saved = json.loads((tmp_path / "k8s" / "cli-checksums.json").read_text())
    assert saved["platform"] == saved["bare_steps"] == got

    with open_warehouse(url) as wh:
        wh.execute("DELETE FROM carrier_daily WHERE carrier = 'UA'")
    with pytest.raises(AssertionError, match="carrier_daily"):
        assert_same_as_bare_steps(url, day, seeded_landing, platform="cli")
    assert bare_steps_checksums(day, seeded_landing) == got
