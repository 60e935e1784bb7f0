"""pytest plugin of etl-shared: fixtures every platform's tests use.

| fixture                | scope    | what it gives |
| ---------------------- | -------- | ------------- |
| `seeded_landing`       | session  | a landing zone with the sample days, seeded once |
| `landing_zone`         | function | a private copy of it; sets LANDING_DIR and STAGING_DIR |
| `bad_landing_file`     | function | write a day's landing file from lines you choose |
| `duckdb_warehouse`     | function | URL of a fresh DuckDB file |
| `postgres_server`      | session  | a real PostgreSQL server on a free loopback port |
| `postgres_warehouse`   | function | URL of a fresh database on that server |
| `fault_injection`      | function | switch on a transient source fault or a failure inside load |
| `golden_carrier_daily` | session  | checked-in expected `carrier_daily` rows of the golden days |
| `golden_month_landing` | session  | the landing files of every day of GOLDEN_MONTH, seeded once |
| `golden_carrier_monthly` | session | checked-in expected `carrier_monthly` rows of GOLDEN_MONTH |
| `kube_control_plane`   | session  | etcd + kube-apiserver + kube-controller-manager on loopback (`kube.py`) |
| `kube_test_node`       | session  | a Node that runs the pods bound to it as local processes (`kube.py`) |

The session runs in local mode (`ETL_LOCAL_MODE=1`, unless the environment says otherwise).
"""

from __future__ import annotations

import csv
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pytest

from etl_shared.config import LOCAL_MODE_ENV
from etl_shared.landing import flights_file, seed
from etl_shared.partitions import month_days
from etl_shared.schema import SOURCE_COLUMNS
from etl_shared.testing.landing import GOLDEN_MONTH, SAMPLE_DAYS


def pytest_configure(config: pytest.Config) -> None:
    """Tests run in local mode (the local warehouse default is allowed), as `make` does;
    a test of deployment behaviour removes ETL_LOCAL_MODE with monkeypatch."""
    os.environ.setdefault(LOCAL_MODE_ENV, "1")


@pytest.fixture(scope="session")
def seeded_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    landing = tmp_path_factory.mktemp("seeded") / "landing"
    for day in SAMPLE_DAYS:
        seed(landing, day, day)
    return landing


@pytest.fixture
def landing_zone(seeded_landing: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    landing = tmp_path / "landing"
    shutil.copytree(seeded_landing, landing)
    monkeypatch.setenv("LANDING_DIR", str(landing))
    monkeypatch.setenv("STAGING_DIR", str(tmp_path / "staging"))
    monkeypatch.setenv("ETL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ETL_RETRY_DELAY_SECONDS", "0.2")
    return landing


@pytest.fixture
def bad_landing_file(landing_zone: Path) -> Callable[..., Path]:
    """Write `partition`'s landing file: `lines` (bytes or str) after `header`."""

    def write(
        partition: str,
        lines: list[bytes | str] | None = None,
        *,
        header: list[str] | tuple[str, ...] = SOURCE_COLUMNS,
        keep_original: bool = True,
    ) -> Path:
        path = flights_file(landing_zone, partition)
        original = path.read_bytes().splitlines()[1:] if keep_original and path.exists() else []
        extra = [x.encode() if isinstance(x, str) else x for x in (lines or [])]
        path.parent.mkdir(parents=True, exist_ok=True)
        body = [",".join(header).encode(), *original, *extra]
        path.write_bytes(b"\n".join(body) + b"\n")
        return path

    return write


@pytest.fixture
def duckdb_warehouse(tmp_path: Path) -> str:
    return f"duckdb://{tmp_path / 'warehouse.duckdb'}"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[object]:
    from etl_shared.testing.postgres import PostgresServer

    server = PostgresServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_warehouse(postgres_server) -> Iterator[str]:  # type: ignore[no-untyped-def]
    name = f"wh_{uuid.uuid4().hex[:12]}"
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)


@dataclass
class FaultInjection:
    """Switches the faults of :mod:`etl_shared.faults` on for one test."""

    monkeypatch: pytest.MonkeyPatch
    folder: Path

    @property
    def counter(self) -> Path:
        return self.folder / "transient_source_failures"

    def transient_source(self, times: int = 1, partitions: list[str] | None = None) -> None:
        self.counter.write_text(str(times))
        self.monkeypatch.setenv("ETL_FAULT_TRANSIENT_SOURCE", str(self.counter))
        self._only(partitions)

    def inside_load(self, partitions: list[str] | None = None) -> None:
        self.monkeypatch.setenv("ETL_FAULT_LOAD", "1")
        self._only(partitions)

    def remaining_transient(self) -> int:
        return int(self.counter.read_text() or 0) if self.counter.exists() else 0

    def clear(self) -> None:
        for name in ("ETL_FAULT_TRANSIENT_SOURCE", "ETL_FAULT_LOAD", "ETL_FAULT_PARTITIONS"):
            self.monkeypatch.delenv(name, raising=False)

    def _only(self, partitions: list[str] | None) -> None:
        if partitions:
            self.monkeypatch.setenv("ETL_FAULT_PARTITIONS", ",".join(partitions))


@pytest.fixture
def fault_injection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FaultInjection:
    folder = tmp_path / "faults"
    folder.mkdir()
    return FaultInjection(monkeypatch, folder)


def _golden_value(column: str, text: str) -> object:
    if column in ("flight_date", "carrier", "carrier_name"):
        return text
    if column in ("avg_dep_delay", "avg_arr_delay"):
        return None if text == "" else float(text)
    return int(text)


@pytest.fixture(scope="session")
def golden_carrier_daily() -> dict[str, list[dict[str, object]]]:
    """Expected carrier_daily rows per golden day (computed from the raw file with SQLite)."""
    source = resources.files("etl_shared.testing") / "golden" / "carrier_daily.csv"
    by_day: dict[str, list[dict[str, object]]] = {}
    with source.open() as fh:
        for row in csv.DictReader(fh):
            typed = {k: _golden_value(k, v) for k, v in row.items()}
            by_day.setdefault(str(typed["flight_date"]), []).append(typed)
    return by_day


@pytest.fixture(scope="session")
def golden_month_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A landing zone holding every day of GOLDEN_MONTH (seeded once; the report tests copy
    the days they need into their own `landing_zone`)."""
    landing = tmp_path_factory.mktemp("golden-month") / "landing"
    days = month_days(GOLDEN_MONTH)
    seed(landing, days[0], days[-1])
    return landing


def _golden_monthly_value(column: str, text: str) -> object:
    if column in ("month", "carrier", "carrier_name"):
        return text
    if column == "on_time_rate":
        return None if text == "" else float(text)
    return int(text)


@pytest.fixture(scope="session")
def golden_carrier_monthly() -> list[dict[str, object]]:
    """Expected carrier_monthly rows of GOLDEN_MONTH (computed from the raw file with SQLite)."""
    source = resources.files("etl_shared.testing") / "golden" / "carrier_monthly.csv"
    with source.open() as fh:
        return [
            {k: _golden_monthly_value(k, v) for k, v in row.items()} for row in csv.DictReader(fh)
        ]


@pytest.fixture(scope="session")
def kube_control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A real Kubernetes control plane; started only in a session that asks for it."""
    from etl_shared.testing.kube import ControlPlane, ControlPlaneError

    try:
        plane = ControlPlane.start(tmp_path_factory.mktemp("kube"))
    except ControlPlaneError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def kube_test_node(kube_control_plane) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """The test node (see `etl_shared.testing.kube.TestNode`); set `.volumes[claim]` per test."""
    from etl_shared.testing.kube import TestNode

    node = TestNode(kube_control_plane.api_client(), kube_control_plane.workdir / "node").start()
    try:
        yield node
    finally:
        node.stop()
