"""The Kubernetes work pool's flow-run Job and the values of Prefect's Helm charts.

The base job template (deploy/k8s-base-job-template.json) is rendered with its defaults
by prefect-kubernetes' own job configuration (the worker's code path, minus the block and
variable look-ups, which need a server and which the template does not use), and the
Job is validated strictly against the Kubernetes schemas, as k8s-platform does.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
import uuid
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml
from prefect.client.schemas.objects import FlowRun
from prefect.utilities.templating import apply_values
from prefect_kubernetes.worker import KubernetesWorkerJobConfiguration

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
TEMPLATE = DEPLOY / "k8s-base-job-template.json"
K8S_VERSION = "1.35.0"


def _template() -> dict[str, Any]:
    return json.loads(TEMPLATE.read_text())


def rendered_job() -> dict[str, Any]:
    """The Job the worker submits for a flow run, with the template's defaults."""
    template = _template()
    text = json.dumps(template)
    assert "prefect.blocks." not in text
    assert "prefect.variables." not in text
    cls = KubernetesWorkerJobConfiguration
    variables = cls._get_base_config_defaults(template["variables"]["properties"])
    config = cls(**apply_values(copy.deepcopy(template["job_configuration"]), variables))
    config.prepare_for_flow_run(FlowRun(flow_id=uuid.uuid4(), name="curious-otter"))
    return config.job_manifest


def test_flow_run_job_with_the_defaults_validates_strictly() -> None:
    """The worker accepts the template (its job configuration checks the manifest when it
    is built) and the Job it would submit is valid, strictly, for Kubernetes."""
    job = rendered_job()
    assert "{{" not in json.dumps(job)  # every placeholder filled
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)
    # the Job runs one pod once, said where Kubernetes reads it (not in the pod spec)
    assert job["spec"]["parallelism"] == job["spec"]["completions"] == 1
    assert job["spec"]["backoffLimit"] == 0


def test_flow_run_pods_are_non_root_read_only_without_capabilities() -> None:
    pod = rendered_job()["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    uid = pod["securityContext"]["runAsUser"]
    assert uid != 0
    assert f"--uid {uid} " in (ROOT / "Dockerfile").read_text()  # the image's user
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["serviceAccountName"] == "prefect-flow-run"
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    # with the root filesystem read-only, Prefect's home and temp files live on /tmp
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert "PREFECT_HOME=/tmp/prefect" in (ROOT / "Dockerfile").read_text()


def _locked_prefect() -> str:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return next(p["version"] for p in lock["package"] if p["name"] == "prefect")


def test_worker_chart_values_carry_the_same_base_job_template() -> None:
    values = yaml.safe_load((DEPLOY / "prefect-worker-values.yaml").read_text())
    worker = values["worker"]
    carried = json.loads(worker["config"]["baseJobTemplate"]["configuration"])
    assert carried == _template()
    assert worker["image"]["prefectTag"] == f"{_locked_prefect()}-python3.11-kubernetes"
    namespace = _template()["variables"]["properties"]["namespace"]["default"]
    assert values["role"]["namespace"] == worker["config"]["jobNamespace"] == namespace
    deployments = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    assert {d["work_pool"]["name"] for d in deployments} == {worker["config"]["workPool"]}


def test_worker_talks_to_the_server_the_server_values_install() -> None:
    worker = yaml.safe_load((DEPLOY / "prefect-worker-values.yaml").read_text())["worker"]
    server = yaml.safe_load((DEPLOY / "prefect-server-values.yaml").read_text())
    assert server["global"]["prefect"]["image"]["prefectTag"].startswith(_locked_prefect() + "-")
    url = worker["selfHostedServerApiConfig"]["apiUrl"]
    (install,) = re.findall(
        r"helm install (\S+) prefect/prefect-server -n (\S+)",
        (DEPLOY / "prefect-server-values.yaml").read_text(),
    )
    name, namespace = server.get("fullnameOverride") or install[0], install[1]
    assert url == f"http://{name}.{namespace}.svc.cluster.local:{server['service']['port']}/api"
    assert worker["apiConfig"] == "selfHostedServer"
