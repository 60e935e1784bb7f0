"""`make bench-year`'s backfill: the operator's backfill Indexed Job (parallelism 2) on
the real control plane, through etl_shared.bench_year over two days; the warehouse then
equals the bare steps'. Needs `make -C ../shared controlplane` (`make test` builds it)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_year.py"


def _bench_year():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("k8s_bench_year", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_year_backfill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bench = _bench_year()
    reason = bench.missing_control_plane()
    if reason:
        pytest.fail(reason)
    out = tmp_path / "result.json"
    monkeypatch.setenv("BENCH_YEAR_START", "2013-01-01")
    monkeypatch.setenv("BENCH_YEAR_END", "2013-01-02")
    monkeypatch.setenv("BENCH_YEAR_OUT", str(out))
    monkeypatch.setenv("BENCH_YEAR_TIMEOUT", "300")
    monkeypatch.delenv("ETL_BENCH_CACHE", raising=False)

    rc = bench.main(cwd=tmp_path)

    result = json.loads(out.read_text())
    assert rc == 0, result
    assert result["platform"] == "k8s"
    assert (result["partitions"], result["succeeded"]) == (2, 2)
    assert result["same_as_bare_steps"], result
    assert result["checksums"]["flights"][0] > 0
    # the Job ran on the API server: its pods' output is in the test node's logs
    logs = list((tmp_path / "data" / "bench-year" / "k8s" / "cluster" / "node" / "logs").glob("*"))
    assert len(logs) == 2, logs


def test_bench_year_without_the_control_plane_says_how_to_build_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KUBE_CONTROLPLANE_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("BENCH_YEAR_OUT", str(tmp_path / "result.json"))

    assert _bench_year().main(cwd=tmp_path) == 1

    assert "make -C ../shared controlplane" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()  # stopped before seeding anything
    assert not (tmp_path / "result.json").exists()
