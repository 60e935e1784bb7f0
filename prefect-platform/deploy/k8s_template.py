"""Write deploy/k8s-base-job-template.json: prefect-kubernetes' default template + our changes.

    uv run python deploy/k8s_template.py          # rewrite the file
    uv run python deploy/k8s_template.py --check  # exit 1 if the file is out of date

Start from the installed prefect-kubernetes' own default (so an upgrade brings its new
fields) and change only what this pipeline needs:

* the warehouse URL (with its password) comes from a Kubernetes Secret, not from Prefect;
* the landing zone and staging live on a PersistentVolumeClaim mounted at /data;
* Prefect retries failed steps itself, so the Job never restarts the pod (backoffLimit 0);
* resource requests and a namespace suited to a daily batch job.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

TARGET = Path(__file__).with_name("k8s-base-job-template.json")


def build() -> dict[str, Any]:
    from prefect_kubernetes.worker import KubernetesWorker

    template = copy.deepcopy(KubernetesWorker.get_default_base_job_template())
    props = template["variables"]["properties"]
    defaults = {
        "namespace": "data-pipelines",
        "image": "prefect-platform:latest",
        "backoff_limit": 0,
        "finished_job_ttl": 86400,
        "cpu_request": "500m",
        "cpu_limit": "2",
        "memory_request": "1Gi",
        "memory_limit": "2Gi",
    }
    for name, value in defaults.items():
        props[name]["default"] = value
    props["warehouse_secret"] = {
        "title": "Warehouse secret",
        "description": "Secret whose keys become env vars of the flow run (WAREHOUSE_URL).",
        "type": "string",
        "default": "etl-warehouse",
    }
    props["data_claim"] = {
        "title": "Data volume claim",
        "description": "PersistentVolumeClaim mounted at /data (landing zone and staging).",
        "type": "string",
        "default": "etl-data",
    }
    job = template["job_configuration"]["job_manifest"]
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    container["envFrom"] = [{"secretRef": {"name": "{{ warehouse_secret }}"}}]
    container["volumeMounts"] = [{"name": "etl-data", "mountPath": "/data"}]
    pod["volumes"] = [
        {"name": "etl-data", "persistentVolumeClaim": {"claimName": "{{ data_claim }}"}}
    ]
    return template


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv:
        if TARGET.read_text() != text:
            sys.exit(f"{TARGET} is out of date: run python deploy/k8s_template.py")
    else:
        TARGET.write_text(text)
        print(f"wrote {TARGET}")
