"""One module per Dagster concept; `load_from_defs_folder` collects them all."""
