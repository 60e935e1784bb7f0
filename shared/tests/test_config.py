"""Settings: the two WAREHOUSE_URL forms, and local mode as the only way to a default."""

from __future__ import annotations

import pytest

from etl_shared.config import Settings, check_warehouse_url
from etl_shared.errors import ConfigError
from etl_shared.partitions import date_range, parse_partition


@pytest.mark.parametrize(
    "url",
    ["duckdb:///abs/wh.duckdb", "duckdb:////abs/wh.duckdb", "postgresql://u:p@h:5432/db"],
)
def test_accepted_warehouse_urls(url: str) -> None:
    assert check_warehouse_url(url) == url


@pytest.mark.parametrize(
    "url", ["mysql://u:p@h/db", "duckdb://wh.duckdb", "duckdb://", "sqlite:///x.db", "", None]
)
def test_refused_warehouse_urls_name_the_two_forms(url: str | None) -> None:
    with pytest.raises(ConfigError) as err:
        check_warehouse_url(url)
    assert "duckdb:///absolute/path/file.duckdb or postgresql://" in str(err.value)
    assert "\n" not in str(err.value)


def test_default_warehouse_only_in_local_mode(tmp_path) -> None:
    env = {"ETL_DATA_DIR": str(tmp_path)}
    assert Settings.from_env(env).warehouse_url == ""
    assert Settings.from_env({**env, "ETL_LOCAL_MODE": "1"}).warehouse_url == (
        f"duckdb://{tmp_path / 'warehouse.duckdb'}"
    )
    assert Settings.from_env({**env, "WAREHOUSE_URL": "postgresql://h/db"}).warehouse_url == (
        "postgresql://h/db"
    )


def test_partitions_are_the_days_of_the_data() -> None:
    assert parse_partition("2013-01-01").isoformat() == "2013-01-01"
    assert parse_partition("2013-12-31").isoformat() == "2013-12-31"
    assert len(date_range("2013-01-01", "2013-12-31")) == 365
    for bad in ("2012-12-31", "2014-01-01"):
        with pytest.raises(ValueError, match="outside the data"):
            parse_partition(bad)
    with pytest.raises(ValueError, match="'2014-01-02': outside the data"):
        date_range("2013-12-30", "2014-01-02")
