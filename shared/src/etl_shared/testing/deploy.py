"""What every platform's Kubernetes deploy test checks the same way.

* `assert_pod_hardened`: the pod a tool generated from the platform's deploy files is
  valid against the Kubernetes JSON schemas (strict: no unknown fields), runs as non-root
  with no privilege escalation and (where the tool allows it) a read-only root
  filesystem, and gets the warehouse URL only from the `etl-warehouse` Secret
  (`etl_shared.policy.WAREHOUSE_SECRET`): a `secretKeyRef` or an `envFrom` `secretRef`,
  never a literal value.
* `save_pod_spec`: the manifest under `reports/k8s/<platform>-<name>.json` (git-ignored).
* `assert_same_as_bare_steps`: the rows the platform's run wrote for a partition equal
  what the bare shared steps (`etl run`, in process) write for it into a fresh DuckDB file,
  by `make compare`'s normalisation, table by table. Every platform's deploy test makes
  this check, so the four deployments hold the same rows as each other. The checksums go
  to `reports/k8s/<platform>-checksums.json`.

This module never imports an orchestrator; `kubernetes_validate` is imported when used
(each platform that runs a deploy test has it in its dev dependencies).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from etl_shared.policy import WAREHOUSE_SECRET, WAREHOUSE_SECRET_KEY

# The schemas kubernetes-validate ships closest to the control plane (v1.37).
K8S_SCHEMA_VERSION = "1.37.0"
WAREHOUSE_SCHEMES = ("duckdb:", "postgresql:", "postgres:")


def reports_dir() -> Path:
    """`reports/k8s` of the repository: $ETL_REPORTS_DIR/k8s, else found from the working
    directory upwards (the folder holding `shared/pyproject.toml`)."""
    if os.environ.get("ETL_REPORTS_DIR"):
        return Path(os.environ["ETL_REPORTS_DIR"]) / "k8s"
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "shared" / "pyproject.toml").is_file():
            return folder / "reports" / "k8s"
    return here / "reports" / "k8s"


def _write_report(platform: str, name: str, data: Any) -> Path:
    folder = reports_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{platform}-{name}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    return path


# --------------------------------------------------------------------------- waiting
def wait_for(
    check: Callable[[], Any],
    timeout: float,
    what: str,
    details: Callable[[], str] | None = None,
    *,
    interval: float = 0.2,
) -> Any:
    """Poll `check` until it returns something truthy and return that; after `timeout` s
    fail naming `what`, with `details()` (logs, states) appended when given."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            extra = f"\n{details()}" if details is not None else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{extra}")
        time.sleep(interval)


# ------------------------------------------------------------------------- pod specs
def pod_manifest(pod: Any) -> dict[str, Any]:
    """A pod (kubernetes client object or dict) as a manifest: name, namespace, labels,
    annotations and spec, without status or what the API server adds to metadata."""
    from kubernetes import client

    raw = pod if isinstance(pod, dict) else client.ApiClient().sanitize_for_serialization(pod)
    meta = raw.get("metadata") or {}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            k: meta[k] for k in ("name", "namespace", "labels", "annotations") if meta.get(k)
        },
        "spec": raw["spec"],
    }


def save_pod_spec(manifest: dict[str, Any], *, platform: str, name: str = "pod") -> Path:
    """Write the manifest to `reports/k8s/<platform>-<name>.json`; return the path."""
    return _write_report(platform, name, manifest)


def _schema_problems(manifest: dict[str, Any], version: str) -> list[str]:
    import jsonschema
    import kubernetes_validate

    try:
        kubernetes_validate.validate(manifest, version, strict=True)
    except jsonschema.ValidationError as exc:
        where = ".".join(str(p) for p in exc.absolute_path) or "(root)"
        return [f"not valid against the Kubernetes {version} schema at {where}: {exc.message}"]
    return []


def pod_hardening_problems(
    manifest: dict[str, Any],
    *,
    read_only_root: bool = True,
    secret: str = WAREHOUSE_SECRET,
    schema_version: str | None = K8S_SCHEMA_VERSION,
) -> list[str]:
    """Every way the pod falls short of what `assert_pod_hardened` requires (none: [])."""
    problems = _schema_problems(manifest, schema_version) if schema_version else []
    spec = manifest.get("spec") or {}
    pod_sc = spec.get("securityContext") or {}
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    if not containers:
        problems.append("the pod has no containers")
    for c in containers:
        name = c.get("name", "?")
        sc = c.get("securityContext") or {}
        user = sc.get("runAsUser", pod_sc.get("runAsUser"))
        non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        if user == 0:
            problems.append(f"container {name}: runAsUser is 0 (root)")
        elif non_root is not True and not user:
            problems.append(f"container {name}: neither runAsNonRoot: true nor a runAsUser > 0")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"container {name}: allowPrivilegeEscalation is not false")
        if sc.get("privileged") is True:
            problems.append(f"container {name}: privileged")
        if read_only_root and sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"container {name}: readOnlyRootFilesystem is not true")
        for item in c.get("env") or []:
            value = item.get("value")
            if value is None:
                continue
            if item["name"] == WAREHOUSE_SECRET_KEY:
                problems.append(f"container {name}: {WAREHOUSE_SECRET_KEY} is a literal value")
            elif value.startswith(WAREHOUSE_SCHEMES):
                problems.append(f"container {name}: env {item['name']} holds a literal URL")
    main = (spec.get("containers") or [{}])[0]
    from_secret = [
        e["name"]
        for e in main.get("env") or []
        if ((e.get("valueFrom") or {}).get("secretKeyRef") or {}).get("name") == secret
    ] + [
        f"envFrom {secret}"
        for s in main.get("envFrom") or []
        if (s.get("secretRef") or {}).get("name") == secret
    ]
    if not from_secret:
        problems.append(
            f"container {main.get('name', '?')}: the warehouse URL does not come from the "
            f"Secret {secret!r} (no secretKeyRef or envFrom secretRef naming it)"
        )
    return problems


def assert_pod_hardened(
    manifest: dict[str, Any],
    *,
    read_only_root: bool = True,
    secret: str = WAREHOUSE_SECRET,
    schema_version: str = K8S_SCHEMA_VERSION,
    secret_values: Iterable[str] = (),
) -> None:
    """Fail, listing every problem, unless the pod is schema-valid and hardened (see the
    module docstring). `secret_values` (e.g. the warehouse URL the Secret holds) must not
    appear anywhere in the manifest."""
    problems = pod_hardening_problems(
        manifest, read_only_root=read_only_root, secret=secret, schema_version=schema_version
    )
    text = json.dumps(manifest)
    problems += [
        f"a Secret's value appears in the manifest: {v[:12]}…" for v in secret_values if v in text
    ]
    name = (manifest.get("metadata") or {}).get("name", "?")
    assert not problems, f"pod {name} is not hardened:\n- " + "\n- ".join(problems)


# --------------------------------------------------------------------------- parity
# The day every platform's deploy test loads on the control plane (the 8 February 2013
# blizzard: hundreds of cancellations), so the four reports/k8s/<platform>-checksums.json
# describe the same partition and compare directly; each is asserted equal to the bare
# steps, which makes the four equal to each other.
DEPLOY_DAY = "2013-02-08"


def partition_checksums(url: str, partition: str) -> dict[str, list[Any]]:
    """table -> [row count, sha256 of its normalised rows] for one partition
    (`etl_shared.compare.checksums`, run ids left out), over the compared tables a daily
    partition writes (not the monthly report)."""
    from etl_shared.compare import COMPARED_TABLES, checksums
    from etl_shared.schema import PARTITIONED_TABLES

    daily = tuple(t for t in COMPARED_TABLES if t in PARTITIONED_TABLES)
    return {t: list(sums) for t, sums in checksums(url, partition, daily).items()}


def bare_steps_checksums(partition: str, landing_dir: Path) -> dict[str, list[Any]]:
    """Run the bare shared steps (`etl run`'s path, in process) for the partition into a
    fresh DuckDB file; its checksums for the partition."""
    from etl_shared.config import Settings
    from etl_shared.runner import run_partitions

    with tempfile.TemporaryDirectory(prefix="etl-bare-") as tmp:
        url = f"duckdb:///{Path(tmp) / 'bare.duckdb'}"
        settings = Settings(
            landing_dir=Path(landing_dir), warehouse_url=url, staging_dir=Path(tmp) / "staging"
        )
        (result,) = run_partitions([partition], settings=settings, platform="cli", attempts=1)
        assert result.ok, f"the bare steps failed for {partition}: {result.error}"
        return partition_checksums(url, partition)


def assert_same_as_bare_steps(
    warehouse_url: str, partition: str, landing_dir: Path, *, platform: str
) -> dict[str, list[Any]]:
    """The platform's warehouse holds, for the partition, the rows the bare steps write
    (`flights`, `carrier_daily`, `quarantine`); checksums saved to
    `reports/k8s/<platform>-checksums.json`. Returns the platform's checksums."""
    got = partition_checksums(warehouse_url, partition)
    want = bare_steps_checksums(partition, landing_dir)
    _write_report(
        platform, "checksums", {"partition": partition, "platform": got, "bare_steps": want}
    )
    assert got["flights"][0] > 0, f"{platform}: no flights for {partition} in the warehouse"
    differ = {t: {"platform": got[t], "bare_steps": want[t]} for t in want if got[t] != want[t]}
    assert not differ, f"{platform} differs from the bare steps for {partition}: {differ}"
    return got
