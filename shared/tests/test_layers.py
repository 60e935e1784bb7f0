"""etl-shared computes; orchestrators orchestrate. This package never imports one."""

from __future__ import annotations

import ast
from pathlib import Path

import etl_shared

FORBIDDEN = {"airflow", "dagster", "prefect", "kopf"}


def test_etl_shared_imports_no_orchestrator() -> None:
    root = Path(etl_shared.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [
                f"{path.relative_to(root)}: {n}" for n in names if n.split(".")[0] in FORBIDDEN
            ]
    assert len(list(root.rglob("*.py"))) > 10
    assert offenders == []
