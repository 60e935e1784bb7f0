"""The nycflights13 pipeline as Prefect 3 flows."""
