"""A real Kubernetes control plane on loopback, and a node that runs pods as local processes.

`ControlPlane.start()` runs the binaries that `make -C shared controlplane` builds into
`.tools/kube-v1.37.2/` (etcd, kube-apiserver, kube-controller-manager; override the folder
with $KUBE_CONTROLPLANE_DIR), each on a free loopback port, with certificates generated
here (a CA, the API server's serving certificate, an admin client certificate in
`system:masters`, a service-account signing key pair). It waits for `/readyz`, writes a
kubeconfig and stops everything in order (controller manager, API server, etcd, each with
a bounded wait and then a kill), also when a test fails. There is no scheduler and no
kubelet: `TestNode` stands in for both.

`TestNode` registers a Node, renews its Lease and Ready condition like a kubelet, binds
every pending pod to itself (the `binding` subresource) and runs each pod's containers one
after the other as local processes:

* init containers run first, then the containers, one after the other;
* argv = the container's `command` + `args` (with `$(VAR)` references expanded); the image
  is not run: without `command`, `entrypoints[image]` stands for its ENTRYPOINT (none
  given: `args` alone, as with an empty ENTRYPOINT). `argv[0]` is looked up in `executables` first (an explicit mapping, e.g.
  `{"python": sys.executable}`), then on `path` (the directory of the running Python
  first, then $PATH);
* the environment is only what the pod says: `env` (values, `secretKeyRef`,
  `configMapKeyRef`, `fieldRef`), `envFrom` (Secrets and ConfigMaps), read from the API
  like a kubelet does, plus `PATH`/`HOME`/`LANG`;
* volumes are local folders: an `emptyDir` is a fresh folder per pod, a
  `persistentVolumeClaim` is `volumes[claimName]` (or `<workdir>/pvc/<claimName>`), a
  `hostPath` its path. Paths under a container's mount paths in env values (`value` and
  `envFrom` alike) and args are rewritten to those folders (there is no mount namespace);
* not done: securityContext, resources, probes, images, service-account token mounts and
  the `KUBERNETES_SERVICE_*` variables (a process that calls the API needs a kubeconfig
  in its environment), `kubectl logs`/`exec` (no kubelet API);
* each container runs once: pods with `restartPolicy: Always` (a Deployment's) are bound
  but stay Pending, since a process that exits is not restarted in place here;
* status goes through `pods/status` as a kubelet reports it: `Running` with a container
  status, then `Succeeded`/`Failed` with the container's exit code (which Job
  `podFailurePolicy` rules match on; killed by signal N: 128 + N). A pod being deleted
  has its process stopped, is marked failed if it was still running, and is removed
  with grace period 0.

Each container's output goes to `<workdir>/logs/<namespace>_<pod>.log` (`TestNode.logs`).

The pytest fixtures (`kube_control_plane`, `kube_test_node`) are registered by the
etl-shared plugin and start only in a session that asks for them. `python -m
etl_shared.testing.kube up --dir D` runs both in the foreground until SIGTERM (the
`cluster-up` targets start it in the background).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ctypes
import datetime as dt
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KUBE_VERSION = "v1.37.2"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager")
MAKE_TARGET = "make -C shared controlplane"
NODE_NAME = "etl-test-node"
ADMIN_USER = "etl-admin"
SERVICE_CIDR = "10.0.0.0/24"
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
    verbs: ["create", "update", "patch", "delete", "deletecollection"]
  - level: None
"""


class ControlPlaneError(RuntimeError):
    """The control plane cannot start (binaries missing, a process exited, not ready)."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def default_bin_dir() -> Path:
    """$KUBE_CONTROLPLANE_DIR, else `.tools/kube-<version>` in the nearest folder that has one."""
    if os.environ.get("KUBE_CONTROLPLANE_DIR"):
        return Path(os.environ["KUBE_CONTROLPLANE_DIR"])
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        candidate = folder / ".tools" / f"kube-{KUBE_VERSION}"
        if candidate.is_dir():
            return candidate
    return here.parent / ".tools" / f"kube-{KUBE_VERSION}"


def missing_binaries(bin_dir: Path) -> list[str]:
    return [b for b in BINARIES if not os.access(bin_dir / b, os.X_OK)]


# ---------------------------------------------------------------------- certificates
@dataclass
class Pki:
    """PEM files in `folder`: CA, serving cert, admin client cert, service-account keys."""

    folder: Path

    def path(self, name: str) -> Path:
        return self.folder / name

    @classmethod
    def generate(cls, folder: Path) -> Pki:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        folder.mkdir(parents=True, exist_ok=True)
        now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        until = now + dt.timedelta(days=365)

        def key_pem(key: Any) -> bytes:
            return key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )

        def name(cn: str, org: str | None = None) -> x509.Name:
            attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
            if org:
                attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
            return x509.Name(attrs)

        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = (
            x509.CertificateBuilder()
            .subject_name(name("etl-test-ca"))
            .issuer_name(name("etl-test-ca"))
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(until)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )

        def leaf(
            cn: str, org: str | None, usage: Any, sans: list[Any] | None
        ) -> tuple[bytes, bytes]:
            key = ec.generate_private_key(ec.SECP256R1())
            builder = (
                x509.CertificateBuilder()
                .subject_name(name(cn, org))
                .issuer_name(ca.subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now)
                .not_valid_after(until)
                .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            )
            if sans:
                builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
            cert = builder.sign(ca_key, hashes.SHA256())
            return cert.public_bytes(serialization.Encoding.PEM), key_pem(key)

        serving = leaf(
            "kube-apiserver",
            None,
            ExtendedKeyUsageOID.SERVER_AUTH,
            [
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
                x509.DNSName("localhost"),
                x509.DNSName("kubernetes"),
                x509.DNSName("kubernetes.default"),
                x509.DNSName("kubernetes.default.svc"),
            ],
        )
        admin = leaf(ADMIN_USER, "system:masters", ExtendedKeyUsageOID.CLIENT_AUTH, None)
        sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        files = {
            "ca.crt": ca.public_bytes(serialization.Encoding.PEM),
            "apiserver.crt": serving[0],
            "apiserver.key": serving[1],
            "admin.crt": admin[0],
            "admin.key": admin[1],
            "sa.key": key_pem(sa_key),
            "sa.pub": sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        }
        for file, data in files.items():
            (folder / file).write_bytes(data)
            (folder / file).chmod(0o600)
        return cls(folder)


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def kubeconfig_dict(server: str, ca: Path, user: dict[str, Any], name: str = "etl-test") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": name, "cluster": {"server": server, "certificate-authority-data": _b64(ca)}}
        ],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }


# ---------------------------------------------------------------------- processes
def _libc_prctl() -> Any:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None


_PRCTL = _libc_prctl()  # looked up once here: a forked child must not import or load


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """SIGTERM this process when the thread that started it ends (no strays)."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class _Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)


@dataclass
class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager on free loopback ports."""

    workdir: Path
    bin_dir: Path
    pki: Pki | None = None
    api_port: int = 0
    procs: list[_Proc] = field(default_factory=list)
    ready_seconds: float = 0.0
    _owns_workdir: bool = False

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def audit_log(self) -> Path:
        return self.workdir / "audit.log"

    def audit_events(
        self,
        *,
        verbs: tuple[str, ...] = ("create", "update", "patch", "delete"),
        resource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        user: str | None = None,
        subresource: str | None = "",
    ) -> list[dict[str, Any]]:
        """The API server's audit events of writes (ResponseComplete), filtered.

        `subresource=""` means the object itself (not /status); None means any.
        """
        events = []
        if not self.audit_log.exists():
            return events
        for line in self.audit_log.read_text().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a line being written
            ref = event.get("objectRef") or {}
            if (
                event.get("stage") == "ResponseComplete"
                and event.get("verb") in verbs
                and (resource is None or ref.get("resource") == resource)
                and (namespace is None or ref.get("namespace") == namespace)
                and (name is None or ref.get("name") == name)
                and (user is None or (event.get("user") or {}).get("username") == user)
                and (subresource is None or ref.get("subresource", "") == subresource)
            ):
                events.append(event)
        return events

    # -------------------------------------------------------------- start / stop
    @classmethod
    def start(
        cls,
        workdir: Path | None = None,
        bin_dir: Path | None = None,
        *,
        timeout: float = 90.0,
        extra_apiserver_args: list[str] | None = None,
    ) -> ControlPlane:
        bin_dir = Path(bin_dir or default_bin_dir())
        missing = missing_binaries(bin_dir)
        if missing:
            raise ControlPlaneError(
                f"Kubernetes control plane binaries missing in {bin_dir}: {', '.join(missing)}. "
                f"Build them with `{MAKE_TARGET}` (etcd + kube-apiserver + kube-controller-manager "
                f"{KUBE_VERSION} from their Go modules; cold about 15 minutes on 2 cores)."
            )
        owns = workdir is None
        workdir = Path(workdir or tempfile.mkdtemp(prefix="etl-kube-"))
        workdir.mkdir(parents=True, exist_ok=True)
        plane = cls(workdir=workdir, bin_dir=bin_dir, _owns_workdir=owns)
        try:
            plane._start(timeout, extra_apiserver_args or [])
        except BaseException:
            plane.stop()
            raise
        return plane

    def _spawn(self, name: str, args: list[str]) -> _Proc:
        log = self.workdir / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                [str(self.bin_dir / name), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )
        proc = _Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def _start(self, timeout: float, extra_apiserver_args: list[str]) -> None:
        began = time.monotonic()
        self.pki = pki = Pki.generate(self.workdir / "pki")
        etcd_port, peer_port = _free_port(), _free_port()
        self.api_port = _free_port()
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        etcd = self._spawn(
            "etcd",
            [
                "--name=etl-test",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-cluster=etl-test=http://127.0.0.1:{peer_port}",
                "--unsafe-no-fsync=true",  # a test cluster: speed over durability
                "--log-level=warn",
            ],
        )
        self._wait(lambda: _http_ok(f"{etcd_url}/health"), etcd, began + timeout, "etcd /health")
        (self.workdir / "audit-policy.yaml").write_text(AUDIT_POLICY)
        api = self._spawn(
            "kube-apiserver",
            [
                # every write, who made it and on what: tests count an operator's writes
                f"--audit-policy-file={self.workdir / 'audit-policy.yaml'}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-format=json",
                "--audit-log-mode=blocking",
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.api_port}",
                f"--cert-dir={self.workdir / 'apiserver-certs'}",
                f"--tls-cert-file={pki.path('apiserver.crt')}",
                f"--tls-private-key-file={pki.path('apiserver.key')}",
                f"--client-ca-file={pki.path('ca.crt')}",
                f"--service-account-key-file={pki.path('sa.pub')}",
                f"--service-account-signing-key-file={pki.path('sa.key')}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--authorization-mode=RBAC",
                # blockOwnerDeletion needs update on the owner's finalizers, as on clusters
                # that enforce it: a missing RBAC rule fails here, not in production.
                "--enable-admission-plugins=OwnerReferencesPermissionEnforcement",
                # 127.0.0.1 is not a valid endpoint for the `kubernetes` Service
                "--endpoint-reconciler-type=none",
                "--allow-privileged=true",
                "--enable-priority-and-fairness=false",
                "--profiling=false",
                "-v=1",
                *extra_apiserver_args,
            ],
        )
        self._write_kubeconfig()
        self._wait(self._api_ready, api, began + timeout, "kube-apiserver /readyz")
        self._spawn(
            "kube-controller-manager",
            [
                f"--kubeconfig={self.kubeconfig}",
                f"--authentication-kubeconfig={self.kubeconfig}",
                f"--authorization-kubeconfig={self.kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={_free_port()}",
                f"--cert-dir={self.workdir / 'kcm-certs'}",
                f"--service-account-private-key-file={pki.path('sa.key')}",
                f"--root-ca-file={pki.path('ca.crt')}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--use-service-account-credentials=false",
                "--leader-elect=false",
                "--profiling=false",
                "-v=1",
            ],
        )
        self.ready_seconds = time.monotonic() - began

    def _wait(self, check: Callable[[], bool], proc: _Proc, deadline: float, what: str) -> None:
        while True:
            if proc.popen.poll() is not None:
                raise ControlPlaneError(
                    f"{proc.name} exited with code {proc.popen.returncode} before {what}; "
                    f"its log ({proc.log}) ends with:\n{proc.tail()}"
                )
            if check():
                return
            if time.monotonic() > deadline:
                raise ControlPlaneError(
                    f"{what} not ready in time; {proc.log} ends with:\n{proc.tail()}"
                )
            time.sleep(0.1)

    def ssl_context(self) -> ssl.SSLContext:
        assert self.pki is not None
        ctx = ssl.create_default_context(cafile=str(self.pki.path("ca.crt")))
        ctx.load_cert_chain(str(self.pki.path("admin.crt")), str(self.pki.path("admin.key")))
        return ctx

    def _api_ready(self) -> bool:
        return _http_ok(f"{self.server}/readyz", self.ssl_context())

    def _write_kubeconfig(self) -> None:
        assert self.pki is not None
        user = {
            "client-certificate-data": _b64(self.pki.path("admin.crt")),
            "client-key-data": _b64(self.pki.path("admin.key")),
        }
        self.write_kubeconfig(self.kubeconfig, user)

    def write_kubeconfig(self, path: Path, user: dict[str, Any]) -> Path:
        """A kubeconfig for this server with the given `user` entry (cert or token)."""
        assert self.pki is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(kubeconfig_dict(self.server, self.pki.path("ca.crt"), user)))
        path.chmod(0o600)
        return path

    def token_kubeconfig(self, path: Path, namespace: str, service_account: str) -> Path:
        """A kubeconfig that acts as a ServiceAccount (a token from the TokenRequest API)."""
        from kubernetes import client

        core = client.CoreV1Api(self.api_client())
        request = client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600 * 6)
        )
        token = core.create_namespaced_service_account_token(service_account, namespace, request)
        return self.write_kubeconfig(path, {"token": token.status.token})

    def api_client(self, kubeconfig: Path | None = None) -> Any:
        """A `kubernetes.client.ApiClient` for the admin (or the given kubeconfig)."""
        from kubernetes import config

        return config.new_client_from_config(str(kubeconfig or self.kubeconfig))

    def stop(self) -> None:
        """Controller manager, then API server, then etcd; each a bounded wait, then a kill."""
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def running(self) -> bool:
        return bool(self.procs) and all(p.popen.poll() is None for p in self.procs)


def _http_ok(url: str, ctx: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2, context=ctx) as resp:
            return resp.status == 200
    except OSError:
        return False


# ------------------------------------------------------------------------ test node
_VAR_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def _expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion; `$$(VAR)` stays literal, unknown references stay."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
            continue
        m = _VAR_REF.match(text, i)
        if m and m.group(1) in env:
            out.append(env[m.group(1)])
            i = m.end()
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def container_argv(container: Any, entrypoints: dict[str, list[str]] | None = None) -> list[str]:
    """`command + args` as the runtime would exec them.

    Without `command` the image's ENTRYPOINT applies: `entrypoints[image]` (or the image
    without its tag) when given, else none, so `args` alone is the argv (an image with an
    empty ENTRYPOINT). Raises when there is nothing to run.
    """
    command = list(container.command or [])
    if not command and entrypoints:
        image = container.image or ""
        command = list(entrypoints.get(image) or entrypoints.get(image.rsplit(":", 1)[0]) or [])
    argv = command + list(container.args or [])
    if not argv:
        raise RuntimeError(
            f"container {container.name} has no command or args (images are not run here; "
            "give TestNode(entrypoints={image: [...]}))"
        )
    return argv


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class TestNode:
    """A Node whose pods run as local processes (see the module docstring)."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        api_client: Any,
        workdir: Path,
        *,
        name: str = NODE_NAME,
        executables: dict[str, str] | None = None,
        path: list[str] | None = None,
        volumes: dict[str, Path] | None = None,
        entrypoints: dict[str, list[str]] | None = None,
        heartbeat_seconds: float = 10.0,
    ) -> None:
        from kubernetes import client

        self.api = client.CoreV1Api(api_client)
        self.coordination = client.CoordinationV1Api(api_client)
        self.workdir = Path(workdir)
        self.name = name
        self.executables = dict(executables or {})
        self.path = list(path or [str(Path(sys.executable).parent)]) + os.environ.get(
            "PATH", ""
        ).split(os.pathsep)
        self.volumes = {k: Path(v) for k, v in (volumes or {}).items()}
        self.entrypoints = dict(entrypoints or {})
        self.heartbeat_seconds = heartbeat_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running: dict[str, subprocess.Popen] = {}
        self._handled: set[str] = set()
        self._lock = threading.Lock()
        self.errors: list[str] = []

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> TestNode:
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        self._register()
        for target in (self._heartbeat, self._pods):
            thread = threading.Thread(
                target=target, name=f"test-node-{target.__name__}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            procs = list(self._running.values())
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        for thread in self._threads:
            thread.join(10)

    def logs(self, namespace: str, pod: str) -> str:
        path = self._log_path(namespace, pod)
        return path.read_text(errors="replace") if path.exists() else ""

    def _log_path(self, namespace: str, pod: str) -> Path:
        return self.workdir / "logs" / f"{namespace}_{pod}.log"

    # ------------------------------------------------------------- node + lease
    def _node_status(self) -> dict[str, Any]:
        now = _now()
        ready = {
            "type": "Ready",
            "status": "True",
            "reason": "KubeletReady",
            "message": "etl test node runs pods as local processes",
            "lastHeartbeatTime": now,
            "lastTransitionTime": getattr(self, "_since", now),
        }
        self._since = ready["lastTransitionTime"]
        capacity = {"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "100Gi"}
        return {
            "conditions": [ready],
            "capacity": capacity,
            "allocatable": capacity,
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": self.name},
            ],
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "kubeletVersion": KUBE_VERSION,
                "kubeProxyVersion": "",
                "containerRuntimeVersion": "local-process://1",
                "kernelVersion": os.uname().release,
                "osImage": "local processes",
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
            },
        }

    def _register(self) -> None:
        from kubernetes.client.exceptions import ApiException

        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.name,
                "labels": {
                    "kubernetes.io/hostname": self.name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "node-role.etl.example.com/test": "",
                },
            },
        }
        try:
            self.api.create_node(body)
        except ApiException as exc:
            if exc.status != 409:
                raise
        self.api.patch_node_status(self.name, {"status": self._node_status()})
        self._renew_lease()

    def _renew_lease(self) -> None:
        from kubernetes.client.exceptions import ApiException

        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        spec = {"holderIdentity": self.name, "leaseDurationSeconds": 40, "renewTime": now}
        try:
            self.coordination.patch_namespaced_lease(self.name, "kube-node-lease", {"spec": spec})
        except ApiException as exc:
            if exc.status != 404:
                raise
            body = {"metadata": {"name": self.name, "namespace": "kube-node-lease"}, "spec": spec}
            self.coordination.create_namespaced_lease("kube-node-lease", body)

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                self._renew_lease()
                self.api.patch_node_status(self.name, {"status": self._node_status()})
            except Exception as exc:
                self.errors.append(f"heartbeat: {exc}")

    # ---------------------------------------------------------------------- pods
    def _pods(self) -> None:
        from kubernetes import watch

        while not self._stop.is_set():
            try:
                listing = self.api.list_pod_for_all_namespaces()
                for pod in listing.items:
                    self._on_pod(pod)
                w = watch.Watch()
                for event in w.stream(
                    self.api.list_pod_for_all_namespaces,
                    resource_version=listing.metadata.resource_version,
                    timeout_seconds=5,
                ):
                    if self._stop.is_set():
                        w.stop()
                        break
                    if event["type"] in ("ADDED", "MODIFIED"):
                        self._on_pod(event["object"])
            except Exception as exc:
                if not self._stop.is_set():
                    self.errors.append(f"pods: {exc}")
                    self._stop.wait(0.5)

    def _on_pod(self, pod: Any) -> None:
        meta, spec = pod.metadata, pod.spec
        key = f"{meta.namespace}/{meta.name}/{meta.uid}"
        if meta.deletion_timestamp is not None:
            if spec.node_name == self.name:
                self._delete(pod, key)
            return
        if not spec.node_name:
            if not spec.scheduler_name or spec.scheduler_name == "default-scheduler":
                self._bind(pod)
            return
        if spec.node_name != self.name or (pod.status.phase or "Pending") != "Pending":
            return
        if spec.restart_policy == "Always":
            return  # long-running pods (Deployments) are bound but not run: see the docstring
        with self._lock:
            if key in self._handled:
                return
            self._handled.add(key)
        threading.Thread(target=self._run_pod, args=(pod, key), daemon=True).start()

    def _bind(self, pod: Any) -> None:
        from kubernetes.client.exceptions import ApiException

        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": pod.metadata.name},
            "target": {"apiVersion": "v1", "kind": "Node", "name": self.name},
        }
        try:
            self.api.create_namespaced_binding(pod.metadata.namespace, body, _preload_content=False)
        except ApiException as exc:
            if exc.status not in (404, 409):  # gone, or bound meanwhile
                raise

    def _delete(self, pod: Any, key: str) -> None:
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        with self._lock:
            proc = self._running.get(key)
            self._handled.add(key)
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            return  # _run_pod reports the exit and then removes the pod
        try:
            if pod.status.phase not in ("Succeeded", "Failed"):
                self._patch_status(pod, "Failed", None, reason="Terminated", started=None)
            self.api.delete_namespaced_pod(
                pod.metadata.name,
                pod.metadata.namespace,
                body=client.V1DeleteOptions(grace_period_seconds=0),
            )
        except ApiException as exc:
            if exc.status != 404:
                raise

    # --------------------------------------------------------------- run a pod
    def _volume_dirs(self, pod: Any, pod_dir: Path) -> dict[str, Path]:
        dirs: dict[str, Path] = {}
        for vol in pod.spec.volumes or []:
            if vol.persistent_volume_claim is not None:
                claim = vol.persistent_volume_claim.claim_name
                dirs[vol.name] = self.volumes.get(claim) or self.workdir / "pvc" / claim
            elif vol.host_path is not None:
                dirs[vol.name] = Path(vol.host_path.path)
            else:  # emptyDir, and anything else: a fresh folder of this pod
                dirs[vol.name] = pod_dir / "volumes" / vol.name
            dirs[vol.name].mkdir(parents=True, exist_ok=True)
        return dirs

    def _mapper(self, container: Any, dirs: dict[str, Path]) -> Callable[[str], str]:
        mounts = sorted(
            (
                (m.mount_path.rstrip("/") or "/", dirs[m.name])
                for m in container.volume_mounts or []
                if m.name in dirs
            ),
            key=lambda x: -len(x[0]),
        )

        def mapped(value: str) -> str:
            for mount, local in mounts:
                if value == mount or value.startswith(mount + "/"):
                    return str(local) + value[len(mount) :]
            return value

        return mapped

    def _field(self, pod: Any, path: str) -> str:
        meta = pod.metadata
        m = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
        if m:
            return str((getattr(meta, m[1]) or {}).get(m[2], ""))
        values = {
            "metadata.name": meta.name,
            "metadata.namespace": meta.namespace,
            "metadata.uid": meta.uid,
            "spec.nodeName": self.name,
            "spec.serviceAccountName": pod.spec.service_account_name or "",
            "status.podIP": "127.0.0.1",
            "status.hostIP": "127.0.0.1",
        }
        return str(values.get(path, ""))

    def _ref(self, kind: str, namespace: str, name: str, key: str | None, optional: bool) -> Any:
        from kubernetes.client.exceptions import ApiException

        try:
            if kind == "secret":
                data = self.api.read_namespaced_secret(name, namespace).data or {}
                data = {k: base64.b64decode(v).decode() for k, v in data.items()}
            else:
                data = dict(self.api.read_namespaced_config_map(name, namespace).data or {})
        except ApiException as exc:
            if exc.status == 404 and optional:
                return None
            raise RuntimeError(f"{kind} {namespace}/{name}: {exc.reason}") from exc
        if key is None:
            return data
        if key not in data:
            if optional:
                return None
            raise RuntimeError(f"{kind} {namespace}/{name} has no key {key!r}")
        return data[key]

    def environment(self, pod: Any, container: Any, mapped: Callable[[str], str]) -> dict[str, str]:
        """The container's environment as a kubelet builds it (no service links)."""
        ns = pod.metadata.namespace
        env: dict[str, str] = {}
        for src in container.env_from or []:
            prefix = src.prefix or ""
            if src.secret_ref is not None:
                data = self._ref(
                    "secret", ns, src.secret_ref.name, None, bool(src.secret_ref.optional)
                )
            else:
                ref = src.config_map_ref
                data = self._ref("configmap", ns, ref.name, None, bool(ref.optional))
            env.update({prefix + k: mapped(v) for k, v in (data or {}).items()})
        for item in container.env or []:
            if item.value_from is None:
                env[item.name] = mapped(_expand(item.value or "", env))
                continue
            vf = item.value_from
            if vf.secret_key_ref is not None:
                r = vf.secret_key_ref
                value = self._ref("secret", ns, r.name, r.key, bool(r.optional))
            elif vf.config_map_key_ref is not None:
                r = vf.config_map_key_ref
                value = self._ref("configmap", ns, r.name, r.key, bool(r.optional))
            elif vf.field_ref is not None:
                value = self._field(pod, vf.field_ref.field_path)
            else:
                value = None  # resourceFieldRef: not supported, left unset
            if value is not None:
                env[item.name] = value
        base = {"PATH": os.pathsep.join(self.path), "HOME": str(self.workdir), "LANG": "C.UTF-8"}
        return {**base, **env}

    def resolve(self, argv0: str) -> str:
        if argv0 in self.executables:
            return self.executables[argv0]
        found = shutil.which(argv0, path=os.pathsep.join(self.path))
        if found is None:
            raise RuntimeError(
                f"no local executable for {argv0!r} (searched {self.path}; "
                "map it with TestNode(executables={...}))"
            )
        return found

    def _run_pod(self, pod: Any, key: str) -> None:
        meta = pod.metadata
        pod_dir = Path(tempfile.mkdtemp(prefix=f"pod-{meta.name[:40]}-", dir=self.workdir))
        log = self._log_path(meta.namespace, meta.name)
        started = _now()
        exit_code, reason = 0, "Completed"
        try:
            self._patch_status(pod, "Running", None, reason=None, started=started)
            dirs = self._volume_dirs(pod, pod_dir)
            # init containers first, each to completion, then the containers in order
            for container in [*(pod.spec.init_containers or []), *pod.spec.containers]:
                mapped = self._mapper(container, dirs)
                env = self.environment(pod, container, mapped)
                argv = [
                    mapped(_expand(a, env)) for a in container_argv(container, self.entrypoints)
                ]
                argv[0] = self.resolve(argv[0])
                cwd = mapped(container.working_dir) if container.working_dir else str(pod_dir)
                Path(cwd).mkdir(parents=True, exist_ok=True)
                with log.open("ab") as out:
                    out.write(f"$ {' '.join(argv)}\n".encode())
                    out.flush()
                    proc = subprocess.Popen(
                        argv,
                        env=env,
                        cwd=cwd,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        preexec_fn=_die_with_parent,
                    )
                    with self._lock:
                        self._running[key] = proc
                    exit_code = proc.wait()
                    if exit_code < 0:  # killed by a signal: 128 + signal, as runtimes report
                        exit_code = 128 - exit_code
                    with self._lock:
                        self._running.pop(key, None)
                if exit_code != 0:
                    reason = "Error"
                    break
        except Exception as exc:
            with log.open("a") as out:
                out.write(f"test node: {exc}\n")
            exit_code, reason = 128, "ContainerCannotRun"
        phase = "Succeeded" if exit_code == 0 else "Failed"
        try:
            self._patch_status(pod, phase, exit_code, reason=reason, started=started)
            current = self.api.read_namespaced_pod(meta.name, meta.namespace)
            if current.metadata.deletion_timestamp is not None:
                self._delete(current, key)
        except Exception as exc:
            self.errors.append(f"status of {meta.namespace}/{meta.name}: {exc}")
        finally:
            shutil.rmtree(pod_dir, ignore_errors=True)

    def _patch_status(
        self,
        pod: Any,
        phase: str,
        exit_code: int | None,
        *,
        reason: str | None,
        started: str | None,
    ) -> None:
        now = _now()
        statuses = []
        for c in pod.spec.containers:
            if phase == "Running":
                state: dict[str, Any] = {"running": {"startedAt": started or now}}
            else:
                state = {
                    "terminated": {
                        "exitCode": 137 if exit_code is None else exit_code,
                        "reason": reason or "Error",
                        "startedAt": started or now,
                        "finishedAt": now,
                    }
                }
            statuses.append(
                {
                    "name": c.name,
                    "image": c.image or "",
                    "imageID": "",
                    "ready": phase == "Running",
                    "started": phase == "Running",
                    "restartCount": 0,
                    "state": state,
                }
            )
        running = phase == "Running"
        conditions = [
            {
                "type": t,
                "status": "True" if (t in ("PodScheduled", "Initialized") or running) else "False",
                "lastTransitionTime": now,
            }
            for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
        ]
        status = {
            "phase": phase,
            "hostIP": "127.0.0.1",
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "startTime": started or now,
            "conditions": conditions,
            "containerStatuses": statuses,
        }
        self.api.patch_namespaced_pod_status(
            pod.metadata.name, pod.metadata.namespace, {"status": status}
        )


# --------------------------------------------------------------- session fixtures
@contextlib.contextmanager
def running_cluster(
    workdir: Path | None = None, *, node: bool = True, **node_options: Any
) -> Iterator[tuple[ControlPlane, TestNode | None]]:
    """Start the control plane (and the test node); stop both however the block ends."""
    plane = ControlPlane.start(workdir)
    test_node = None
    try:
        if node:
            test_node = TestNode(plane.api_client(), plane.workdir / "node", **node_options).start()
        yield plane, test_node
    finally:
        if test_node is not None:
            test_node.stop()
        plane.stop()


# ----------------------------------------------------------------------------- CLI
def _up(args: argparse.Namespace) -> int:
    workdir = Path(args.dir).absolute()
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(workdir / "cluster", ignore_errors=True)  # a fresh cluster each time
    volumes = dict(v.split("=", 1) for v in args.volume)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with running_cluster(workdir / "cluster", volumes={k: Path(p) for k, p in volumes.items()}) as (
        plane,
        _node,
    ):
        shutil.copy(plane.kubeconfig, workdir / "kubeconfig")
        (workdir / "kubeconfig").chmod(0o600)
        print(
            f"control plane {KUBE_VERSION} ready in {plane.ready_seconds:.1f} s at {plane.server}; "
            f"kubeconfig {workdir / 'kubeconfig'}; test node {NODE_NAME} runs pods as local processes",
            flush=True,
        )
        (workdir / "ready").write_text(plane.server)
        while not stop.wait(1):
            if not plane.running():
                print("a control plane process exited; stopping", file=sys.stderr)
                return 1
    (workdir / "ready").unlink(missing_ok=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m etl_shared.testing.kube", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="run the control plane and the test node until SIGTERM")
    up.add_argument(
        "--dir", required=True, help="writes kubeconfig, ready and the cluster's files here"
    )
    up.add_argument(
        "--volume",
        action="append",
        default=[],
        metavar="CLAIM=DIR",
        help="local folder of a PersistentVolumeClaim's volume (repeatable)",
    )
    sub.add_parser("check", help="exit 0 when the binaries are present, else say how to build them")
    args = parser.parse_args(argv)
    if args.cmd == "check":
        missing = missing_binaries(default_bin_dir())
        if missing:
            print(f"missing in {default_bin_dir()}: {', '.join(missing)} (build: {MAKE_TARGET})")
            return 1
        return 0
    try:
        return _up(args)
    except ControlPlaneError as exc:
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
