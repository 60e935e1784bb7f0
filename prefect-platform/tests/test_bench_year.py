"""`make bench-year`'s backfill: `prefect-platform backfill` (the backfill flow, 2 workers)
through etl_shared.bench_year over two days, and the warehouse equals the bare steps'."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from prefect.settings import get_current_settings

BENCH = Path(__file__).resolve().parents[1] / "bench" / "bench_year.py"


def _bench_year():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("prefect_bench_year", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_year_backfill(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "result.json"
    monkeypatch.setenv("BENCH_YEAR_START", "2013-01-01")
    monkeypatch.setenv("BENCH_YEAR_END", "2013-01-02")
    monkeypatch.setenv("BENCH_YEAR_OUT", str(out))
    monkeypatch.setenv("BENCH_YEAR_TIMEOUT", "300")
    monkeypatch.delenv("ETL_BENCH_CACHE", raising=False)
    # The subprocess talks to this session's API server (as `make backfill` talks to the
    # server of `make ui`), on the session's PREFECT_HOME.
    monkeypatch.setenv("PREFECT_API_URL", str(get_current_settings().api.url))

    rc = _bench_year().main(cwd=tmp_path)

    result = json.loads(out.read_text())
    assert rc == 0, result
    assert result["platform"] == "prefect"
    assert (result["partitions"], result["succeeded"]) == (2, 2)
    assert result["same_as_bare_steps"], result
    assert result["checksums"]["flights"][0] > 0
