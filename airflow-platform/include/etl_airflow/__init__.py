"""Code the DAGs import (Astronomer's `include/` folder), installed as the package `etl_airflow`.

* :mod:`etl_airflow.assets`   -- the assets the daily DAG publishes and the report consumes
* :mod:`etl_airflow.policy`   -- default_args: owner, retries, exponential backoff, retry policy
* :mod:`etl_airflow.runs`     -- run identity, warehouse settings and `pipeline_runs` records
* :mod:`etl_airflow.report`   -- the monthly carrier report
* :mod:`etl_airflow.local`    -- run partitions through Airflow on a laptop (`make run`/`backfill`)

Nothing here does work at import time: the DAG processor imports the DAG files often.
"""
