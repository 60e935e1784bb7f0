"""The chart's alert rules, checked by the real promtool (built by `make setup`).

`promtool check rules` on the rule groups rendered from the PrometheusRule, and
`promtool test rules` (tests/alerts/etl-pipeline.test.yaml) feeding synthetic series
and asserting which alerts fire and which stay silent.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import helm_template, tool

TESTS = Path(__file__).parent / "alerts" / "etl-pipeline.test.yaml"
ALERTS = {
    "EtlOperatorDown",
    "EtlOperatorReconcileErrors",
    "EtlPipelineJobFailed",
    "EtlPipelineNoRecentSuccess",
}


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    (rule,) = [
        o
        for o in helm_template("monitoring.prometheusRule.enabled=true")
        if o["kind"] == "PrometheusRule"
    ]
    folder = tmp_path_factory.mktemp("rules")
    (folder / "rules.yaml").write_text(
        yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False)
    )
    shutil.copy(TESTS, folder / TESTS.name)
    return folder


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("PROMTOOL", "promtool"), *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_rendered_rules_pass_promtool_check(rules_dir: Path):
    out = promtool("check", "rules", "rules.yaml", cwd=rules_dir)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 4 rules found" in out.stdout + out.stderr


def test_alerts_fire_and_stay_silent_as_the_unit_tests_expect(rules_dir: Path):
    out = promtool("test", "rules", TESTS.name, cwd=rules_dir)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout + out.stderr


def test_unit_tests_catch_a_broken_rule(rules_dir: Path, tmp_path: Path):
    """The promtool tests are not vacuous: a rule with a wrong threshold fails them."""
    rules = yaml.safe_load((rules_dir / "rules.yaml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule["expr"] = rule["expr"].replace("> 86400", "> 999999")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False))
    shutil.copy(TESTS, tmp_path / TESTS.name)
    out = promtool("test", "rules", TESTS.name, cwd=tmp_path)
    assert out.returncode != 0
    assert "EtlPipelineNoRecentSuccess" in out.stdout + out.stderr


def test_every_alert_has_summary_description_and_severity(rules_dir: Path):
    rules = yaml.safe_load((rules_dir / "rules.yaml").read_text())
    alerts = {r["alert"]: r for g in rules["groups"] for r in g["rules"] if "alert" in r}
    assert set(alerts) == ALERTS
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"]["summary"].strip(), name
        assert rule["annotations"]["description"].strip(), name
