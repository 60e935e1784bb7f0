"""The chart's alert rules, checked by the real promtool (built by `make setup-tools`).

`promtool check rules` on the rule groups rendered from the PrometheusRule, and
`promtool test rules` (tests/alerts/etl-pipeline.test.yaml) feeding synthetic series
and asserting which alerts fire and which stay silent. tests/alerts/scraped.test.yaml
holds series as the operator exposes them; they get the labels a scrape through the
rendered ServiceMonitor gives them before promtool sees them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from .conftest import helm_template, tool

TESTS = Path(__file__).parent / "alerts" / "etl-pipeline.test.yaml"
SCRAPED = Path(__file__).parent / "alerts" / "scraped.test.yaml"
MONITORING_ON = ("monitoring.prometheusRule.enabled=true", "monitoring.serviceMonitor.enabled=true")
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


def _labels(series: str) -> tuple[str, dict[str, str]]:
    name, _, rest = series.partition("{")
    return name, dict(re.findall(r'(\w+)="([^"]*)"', rest))


def as_scraped(series: str, monitor: dict, service: dict) -> str:
    """One exposed series with the labels Prometheus gives it when it scrapes the target
    the ServiceMonitor selects: the prometheus-operator sets job = the Service's name and
    the Kubernetes target labels; `honor_labels` decides a clash (true: the exposed label
    stays; false: it is renamed `exported_<name>` and the target's value takes its place).
    `up` is Prometheus's own series: only the target labels."""
    name, exposed = _labels(series)
    (endpoint,) = monitor["spec"]["endpoints"]
    target = {
        "job": service["metadata"]["name"],
        "namespace": service["metadata"]["namespace"],
        "service": service["metadata"]["name"],
        "endpoint": endpoint["port"],
        "pod": f"{service['metadata']['name']}-7d9f8b6c5d-x2x9q",
        "container": "operator",
        "instance": "10.0.0.5:9090",
    }
    if name == "up":
        labels = target
    elif endpoint.get("honorLabels", False):
        labels = {**target, **exposed}
    else:
        labels = {k: v for k, v in exposed.items() if k not in target}
        labels |= {f"exported_{k}": v for k, v in exposed.items() if k in target}
        labels |= target
    body = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{body}}}"


def scraped_tests(objs: list[dict], folder: Path) -> Path:
    """Writes rules.yaml and the scraped series' unit tests into `folder`."""
    kinds = {o["kind"]: o for o in objs}
    monitor, service, rule = kinds["ServiceMonitor"], kinds["Service"], kinds["PrometheusRule"]
    (folder / "rules.yaml").write_text(
        yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False)
    )
    tests = yaml.safe_load(SCRAPED.read_text())
    for case in tests["tests"]:
        for s in case["input_series"]:
            s["series"] = as_scraped(s["series"], monitor, service)
    (folder / SCRAPED.name).write_text(yaml.safe_dump(tests, sort_keys=False))
    return folder


def test_alerts_group_by_the_pipelines_namespace_once_scraped(tmp_path: Path):
    """Through the chart's ServiceMonitor, a pipeline's alerts carry the pipeline's
    namespace, and the operator's own alerts the operator's."""
    folder = scraped_tests(helm_template(*MONITORING_ON), tmp_path)
    out = promtool("test", "rules", SCRAPED.name, cwd=folder)
    assert out.returncode == 0, out.stdout + out.stderr
    scraped = (folder / SCRAPED.name).read_text()
    assert 'namespace="team-a"' in scraped
    assert "exported_namespace" not in scraped


def test_without_honor_labels_the_alerts_would_lose_the_pipelines_namespace(tmp_path: Path):
    """The scraped tests are not vacuous: the same series scraped without honorLabels
    (Prometheus's default) fail them, because `namespace` becomes the operator's."""
    objs = helm_template(*MONITORING_ON)
    for o in objs:
        if o["kind"] == "ServiceMonitor":
            o["spec"]["endpoints"][0].pop("honorLabels", None)
    folder = scraped_tests(objs, tmp_path)
    assert "exported_namespace" in (folder / SCRAPED.name).read_text()
    out = promtool("test", "rules", SCRAPED.name, cwd=folder)
    assert out.returncode != 0
    assert "EtlPipelineJobFailed" in out.stdout + out.stderr
