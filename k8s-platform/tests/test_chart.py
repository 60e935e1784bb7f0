"""The Helm chart: helm lint --strict, helm template with defaults and with every switch
on, and every rendered object validated strictly against the schema that governs it:

* built-in kinds against the Kubernetes OpenAPI schemas (kubernetes-validate, strict);
* EtlPipeline against the CRD's own openAPIV3Schema (jsonschema);
* ServiceMonitor / PrometheusRule against the prometheus-operator project's CRDs
  (taken from its Go module by `make setup-tools`, $PROM_CRDS).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml
from k8s_platform import builders

from .conftest import CHART, CRD_FILE, EXAMPLES, crd_schema, helm_template, tool, validate_k8s

ALL_ON = [
    "examplePipelines.enabled=true",
    "plainCronJob.enabled=true",
    "plainCronJob.warehouseSecretRef.name=etl-warehouse",
    "plainCronJob.dataVolumeClaim=etl-data",
    "monitoring.serviceMonitor.enabled=true",
    "monitoring.prometheusRule.enabled=true",
    "monitoring.grafanaDashboard.enabled=true",
]
MONITORING_KINDS = {"ServiceMonitor", "PrometheusRule"}


def prometheus_operator_schema(kind: str) -> dict:
    crds = Path(os.environ.get("PROM_CRDS", ""))
    path = crds / f"monitoring.coreos.com_{kind.lower()}s.yaml"
    if not path.is_file():
        pytest.fail(
            f"{path} missing: run `make setup-tools` (fetches the prometheus-operator CRDs)"
        )
    crd = yaml.safe_load(path.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return _python_regex(version["schema"]["openAPIV3Schema"])


def _python_regex(node):
    """Go's RE2 takes `^(?i)...`; Python needs the inline flag first: `(?i)^...` (same meaning)."""
    if isinstance(node, dict):
        return {
            k: (
                v.replace("^(?i)", "(?i)^")
                if k == "pattern" and isinstance(v, str)
                else _python_regex(v)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_python_regex(v) for v in node]
    return node


def validate_rendered(obj: dict) -> None:
    if obj["kind"] == "EtlPipeline":
        jsonschema.validate(obj, crd_schema(), format_checker=jsonschema.FormatChecker())
    elif obj["kind"] in MONITORING_KINDS:
        jsonschema.validate(obj, prometheus_operator_schema(obj["kind"]))
    else:
        validate_k8s(obj)


def by_kind(objs: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for o in objs:
        out.setdefault(o["kind"], []).append(o)
    return out


def test_helm_lint_strict_passes_with_defaults_and_all_switches_on():
    for sets in ([], ALL_ON):
        args = [a for s in sets for a in ("--set", s)]
        out = subprocess.run(
            [tool("HELM", "helm"), "lint", "--strict", str(CHART), *args],
            capture_output=True,
            text=True,
            check=False,
        )
        assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize(
    "sets",
    [[], ALL_ON, [*ALL_ON, "operator.watchNamespace=etl"]],
    ids=["defaults", "all-on", "all-on-namespaced"],
)
def test_every_rendered_object_is_valid(sets):
    objs = helm_template(*sets)
    assert objs
    for obj in objs:
        validate_rendered(obj)


def test_crd_is_valid_and_has_printer_columns_and_status_subresource():
    crd = yaml.safe_load(CRD_FILE.read_text())
    validate_k8s(crd)
    (version,) = crd["spec"]["versions"]
    assert version["subresources"] == {"status": {}}
    assert {c["name"] for c in version["additionalPrinterColumns"]} >= {
        "Schedule",
        "Phase",
        "Last Schedule",
        "Last Success",
    }


def test_defaults_render_operator_without_monitoring_objects():
    kinds = by_kind(helm_template())
    assert set(kinds) == {
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Service",
        "NetworkPolicy",
    }


def test_monitoring_objects_appear_only_when_enabled():
    for switch, kind in [
        ("serviceMonitor", "ServiceMonitor"),
        ("prometheusRule", "PrometheusRule"),
        ("grafanaDashboard", "ConfigMap"),
    ]:
        assert kind not in by_kind(helm_template())
        on = by_kind(helm_template(f"monitoring.{switch}.enabled=true"))
        assert len(on[kind]) == 1, switch


def test_dashboard_configmap_holds_valid_grafana_json():
    (cm,) = by_kind(helm_template("monitoring.grafanaDashboard.enabled=true"))["ConfigMap"]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    dash = json.loads(cm["data"]["etl-pipeline.json"])
    exprs = " ".join(t["expr"] for p in dash["panels"] for t in p["targets"])
    for metric in (
        "etl_operator_pipelines",
        "etl_pipeline_jobs_failed",
        "etl_operator_reconciles_total",
        "etl_operator_reconcile_duration_seconds_bucket",
        "etl_pipeline_last_success_timestamp_seconds",
    ):
        assert metric in exprs


def test_servicemonitor_selects_the_metrics_service():
    kinds = by_kind(helm_template("monitoring.serviceMonitor.enabled=true"))
    (sm,), (svc,) = kinds["ServiceMonitor"], kinds["Service"]
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    assert sm["spec"]["endpoints"][0]["port"] == svc["spec"]["ports"][0]["name"] == "metrics"
    # the pipelines' own `namespace` label survives the scrape (test_alert_rules.py)
    assert sm["spec"]["endpoints"][0]["honorLabels"] is True


def test_one_image_runs_the_operator_and_every_job():
    """One Dockerfile, one image: the operator Deployment runs `kopf` from it, the plain
    CronJob and the EtlPipelines (whose Jobs the operator builds) `etl-k8s-job`."""
    project = CHART.parents[1]
    assert sorted(p.name for p in project.glob("Dockerfile*")) == ["Dockerfile"]
    dockerfile = (project / "Dockerfile").read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    image = f"{values['image']['repository']}:0.1.0"
    assert f"docker build -f k8s-platform/Dockerfile -t {image} ." in dockerfile
    readme = (project / "README.md").read_text()
    builds = re.findall(r"docker build -f (\S+)\s+-t (\S+) \.", readme)
    assert builds == [("k8s-platform/Dockerfile", image)], builds
    assert "Dockerfile." not in readme
    for example in EXAMPLES.glob("*.yaml"):
        assert yaml.safe_load(example.read_text())["spec"]["image"] == image, example
    kinds = by_kind(helm_template(*ALL_ON))
    (dep,) = kinds["Deployment"]
    (operator,) = dep["spec"]["template"]["spec"]["containers"]
    assert operator["image"] == image
    assert operator["command"] == ["kopf"]
    assert len(kinds["CronJob"]) == 2  # the daily run and the monthly report
    for cron in kinds["CronJob"]:
        (job,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        assert job["image"] == image
        assert job["command"] == builders.JOB_COMMAND
    assert {p["spec"]["image"] for p in kinds["EtlPipeline"]} == {image}
    # both commands are in the image: kopf is a runtime dependency, etl-k8s-job a script
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert any(d.startswith("kopf==") for d in pyproject["dependencies"])
    assert builders.JOB_COMMAND[0] in pyproject["scripts"]


def test_helm_renders_without_kube_version_and_knows_its_version():
    """The helm `make setup-tools` builds carries its release build's version flags: a
    plain `helm template` (as a user runs it) accepts the chart's kubeVersion, and
    `helm version` names the release."""
    helm = tool("HELM", "helm")
    version = subprocess.run([helm, "version", "--short"], capture_output=True, text=True)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("v3.22.0"), version.stdout
    out = subprocess.run(
        [helm, "template", "etl", str(CHART)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    kinds = {d["kind"] for d in yaml.safe_load_all(out.stdout) if d}
    assert "Deployment" in kinds


def test_pods_are_non_root_read_only_without_capabilities():
    kinds = by_kind(helm_template(*ALL_ON))
    pods = [
        kinds["Deployment"][0]["spec"]["template"]["spec"],
        *(c["spec"]["jobTemplate"]["spec"]["template"]["spec"] for c in kinds["CronJob"]),
    ]
    assert len(pods) == 3
    for pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["privileged"] is False
            assert sc["capabilities"] == {"drop": ["ALL"]}


def test_operator_deployment_has_probes_and_runs_the_handlers():
    (dep,) = by_kind(helm_template())["Deployment"]
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert c["readinessProbe"]["httpGet"]["port"] == "metrics"
    assert "--module=k8s_platform.handlers" in c["args"]
    assert "--liveness=http://0.0.0.0:8080/healthz" in c["args"]
    assert dep["spec"]["strategy"]["type"] == "Recreate"


def test_rbac_is_limited_to_pipelines_cronjobs_jobs_and_events():
    """The exact rule set. `etlpipelines/finalizers` `update` is there because every child
    carries an ownerReference with blockOwnerDeletion: true, which clusters enforcing
    owner-reference permissions (OwnerReferencesPermissionEnforcement) only accept from
    a user who may update the owner's finalizers."""
    kinds = by_kind(helm_template())
    (role,) = kinds["ClusterRole"]
    granted = {
        (g, r, v)
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }
    assert {r for _, r, _ in granted} == {
        "etlpipelines",
        "etlpipelines/status",
        # blockOwnerDeletion on the children's ownerReferences needs it where
        # OwnerReferencesPermissionEnforcement is on (the test control plane enables it)
        "etlpipelines/finalizers",
        "cronjobs",
        "jobs",
        "events",
    }
    assert {g for g, _, _ in granted} == {"etl.example.com", "batch", "", "events.k8s.io"}
    assert not any("*" in x for t in granted for x in t)
    assert ("", "events", "create") in granted
    assert ("", "events", "delete") not in granted
    assert ("etl.example.com", "etlpipelines", "delete") not in granted
    assert ("batch", "jobs", "create") in granted
    assert ("etl.example.com", "etlpipelines/finalizers", "update") in granted
    assert ("batch", "cronjobs", "update") in granted
    assert {(g, v) for g, r, v in granted if r == "etlpipelines/finalizers"} == {
        ("etl.example.com", "update")
    }
    child = builders.build_cronjob(
        {"metadata": {"name": "p", "namespace": "etl", "uid": "u"}, "spec": {"image": "i"}}
    )
    assert child["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] is True
    (binding,) = kinds["ClusterRoleBinding"]
    (sa,) = kinds["ServiceAccount"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": "etl"}
    ]


def test_watch_namespace_uses_a_role_not_a_clusterrole():
    kinds = by_kind(helm_template("operator.watchNamespace=team-a"))
    assert "ClusterRole" not in kinds
    assert "ClusterRoleBinding" not in kinds
    assert kinds["Role"][0]["metadata"]["namespace"] == "team-a"
    args = kinds["Deployment"][0]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--namespace=team-a" in args
    assert "--all-namespaces" not in args


def test_every_object_carries_the_chart_labels():
    for obj in helm_template(*ALL_ON):
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "etl-pipeline"
        assert labels["app.kubernetes.io/instance"] == "etl"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["helm.sh/chart"] == "etl-pipeline-0.1.0"


def test_network_policy_allows_only_dns_api_server_and_scrapes():
    (np,) = by_kind(helm_template())["NetworkPolicy"]
    assert np["spec"]["policyTypes"] == ["Ingress", "Egress"]
    ports = sorted(p["port"] for rule in np["spec"]["egress"] for p in rule["ports"])
    assert ports == [53, 53, 443, 6443]
    assert sorted(p["port"] for p in np["spec"]["ingress"][0]["ports"]) == ["health", "metrics"]


def test_plain_cronjobs_run_the_same_containers_as_the_operators_cronjobs():
    """The plain daily CronJob equals the operator's daily one, the plain report CronJob
    the operator's report one (`spec.report` with its defaults), field by field."""
    kinds = by_kind(helm_template(*ALL_ON))
    plain = {c["metadata"]["labels"][builders.LABEL_COMPONENT]: c for c in kinds["CronJob"]}
    body = {
        "metadata": {"name": "flights-daily-plain", "namespace": "etl", "uid": "u"},
        "spec": {
            "image": "ghcr.io/example/etl-pipeline:0.1.0",
            "timeZone": "America/New_York",
            "warehouseSecretRef": {"name": "etl-warehouse", "key": "WAREHOUSE_URL"},
            "dataVolumeClaim": "etl-data",
            "report": {},
        },
    }
    assert sorted(plain) == ["plain-cronjob", "plain-report"]
    _assert_same_cronjob(plain["plain-cronjob"], builders.build_cronjob(body))
    _assert_same_cronjob(plain["plain-report"], builders.build_report_cronjob(body))
    # named as the operator names the report of a pipeline called plainCronJob.name
    assert plain["plain-report"]["metadata"]["name"] == builders.report_cronjob_name(
        plain["plain-cronjob"]["metadata"]["name"]
    )


def _assert_same_cronjob(plain: dict, ours: dict) -> None:
    for key in (
        "schedule",
        "concurrencyPolicy",
        "startingDeadlineSeconds",
        "timeZone",
        "suspend",
        "successfulJobsHistoryLimit",
        "failedJobsHistoryLimit",
    ):
        assert plain["spec"][key] == ours["spec"][key], key
    pj, oj = plain["spec"]["jobTemplate"]["spec"], ours["spec"]["jobTemplate"]["spec"]
    for key in (
        "backoffLimit",
        "activeDeadlineSeconds",
        "ttlSecondsAfterFinished",
        "podFailurePolicy",
    ):
        assert pj[key] == oj[key], key
    pp, op = pj["template"]["spec"], oj["template"]["spec"]
    for key in ("restartPolicy", "securityContext", "volumes", "automountServiceAccountToken"):
        assert pp[key] == op[key], key
    (pc,), (oc,) = pp["containers"], op["containers"]
    for key in ("name", "image", "command", "args", "resources", "securityContext", "volumeMounts"):
        assert pc[key] == oc[key], key
    plain_env = {e["name"]: e for e in pc["env"] if e["name"] != "ETL_PIPELINE"}
    our_env = {e["name"]: e for e in oc["env"] if e["name"] != "ETL_PIPELINE"}
    assert plain_env == our_env


def test_plain_report_cronjob_follows_its_values():
    def plain(*sets: str) -> dict[str, dict]:
        objs = helm_template("operator.enabled=false", "plainCronJob.enabled=true", *sets)
        return {o["metadata"]["name"]: o["spec"] for o in objs}

    report = "flights-daily-plain-carrier-report-monthly"
    assert sorted(plain("plainCronJob.report.enabled=false")) == ["flights-daily-plain"]
    # time zone and suspend follow the daily CronJob's unless set
    cjs = plain("plainCronJob.timeZone=Asia/Tokyo", "plainCronJob.suspend=true")
    assert (cjs[report]["timeZone"], cjs[report]["suspend"]) == ("Asia/Tokyo", True)
    (container,) = cjs[report]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert {"name": "ETL_TIMEZONE", "value": "Asia/Tokyo"} in container["env"]
    assert container["args"] == ["--month", "last"]
    cjs = plain(
        "plainCronJob.suspend=true",
        "plainCronJob.report.suspend=false",
        "plainCronJob.report.timeZone=UTC",
        "plainCronJob.report.schedule=@monthly",
    )
    assert (cjs[report]["schedule"], cjs[report]["timeZone"]) == ("@monthly", "UTC")
    assert (cjs[report]["suspend"], cjs["flights-daily-plain"]["suspend"]) == (False, True)
    out = subprocess.run(
        [
            *(tool("HELM", "helm"), "template", "etl", str(CHART)),
            *("--set", "plainCronJob.enabled=true", "--set", f"plainCronJob.name={'a' * 30}"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode != 0
    assert "at most 29" in out.stderr


def test_plain_cronjob_and_operator_can_be_switched_independently():
    kinds = by_kind(helm_template("operator.enabled=false", "plainCronJob.enabled=true"))
    assert set(kinds) == {"CronJob"}
    assert len(kinds["CronJob"]) == 2


def test_values_schema_rejects_unknown_keys_and_describes_every_key():
    out = subprocess.run(
        [
            tool("HELM", "helm"),
            "template",
            "etl",
            str(CHART),
            "--kube-version",
            builders.TARGET_K8S_VERSION,
            "--set",
            "monitoring.serviceMonitr.enabled=true",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode != 0
    assert "serviceMonitr" in out.stderr
    schema = json.loads((CHART / "values.schema.json").read_text())

    def walk(node: dict, path: str) -> None:
        if node.get("type") == "object" and "properties" in node:
            assert node.get("additionalProperties") is False, path
            for key, child in node["properties"].items():
                assert child.get("description"), f"{path}.{key} has no description"
                walk(child, f"{path}.{key}")
        if node.get("type") == "array" and isinstance(node.get("items"), dict):
            walk(node["items"], path + "[]")

    walk(schema, "values")
    # every key of values.yaml is in the schema (and so described)
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    jsonschema.validate(values, schema)


def test_pipelines_from_values_get_the_job_image_and_validate(tmp_path):
    values = {
        "pipelines": [{"name": "carriers", "spec": {"schedule": "@daily", "timeZone": "UTC"}}]
    }
    (p,) = by_kind(helm_template(values=values, tmp_path=tmp_path))["EtlPipeline"]
    assert p["spec"]["image"] == "ghcr.io/example/etl-pipeline:0.1.0"
    validate_rendered(p)
