"""Code the DAGs import (Astronomer's `include/` folder), installed as the package `etl_airflow`.

* :mod:`etl_airflow.assets`   -- the assets the daily DAG publishes, the day -> month mapper
* :mod:`etl_airflow.policy`   -- default_args: owner, retries, exponential backoff, retry policy
* :mod:`etl_airflow.runs`     -- partition and month of a run, run identity, warehouse, `pipeline_runs`
* :mod:`etl_airflow.local`    -- run partitions through Airflow on a laptop (`make run`/`backfill`/`report`)

Nothing here does work at import time: the DAG processor imports the DAG files often.
"""
