"""The parts of the Kubernetes control plane fixture that need no cluster.

The fixture itself (etcd, kube-apiserver, kube-controller-manager and the test node) is
exercised by k8s-platform/tests/test_cluster.py, whose `make test` builds the binaries.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from etl_shared.testing import kube


def test_missing_binaries_name_the_make_target(tmp_path: Path):
    with pytest.raises(kube.ControlPlaneError) as err:
        kube.ControlPlane.start(tmp_path / "work", bin_dir=tmp_path)
    message = str(err.value)
    assert "make -C shared controlplane" in message
    assert "etcd, kube-apiserver, kube-controller-manager" in message


def test_variable_references_expand_like_the_kubelet():
    env = {"A": "x", "DATA": "/data"}
    assert kube._expand("$(A)-$(DATA)/in", env) == "x-/data/in"
    assert kube._expand("$$(A) $(MISSING)", env) == "$(A) $(MISSING)"


def test_certificates_chain_to_the_ca_and_serve_loopback(tmp_path: Path):
    from cryptography import x509

    pki = kube.Pki.generate(tmp_path)
    ca = x509.load_pem_x509_certificate(pki.path("ca.crt").read_bytes())
    serving = x509.load_pem_x509_certificate(pki.path("apiserver.crt").read_bytes())
    admin = x509.load_pem_x509_certificate(pki.path("admin.crt").read_bytes())
    for cert in (serving, admin):
        cert.verify_directly_issued_by(ca)
    sans = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "127.0.0.1" in {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    org = admin.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)[0].value
    assert org == "system:masters"
    ctx = ssl.create_default_context(cafile=str(pki.path("ca.crt")))
    ctx.load_cert_chain(str(pki.path("admin.crt")), str(pki.path("admin.key")))


def test_argv_is_command_and_args_or_the_mapped_entrypoint():
    from kubernetes import client

    def container(**kw):  # type: ignore[no-untyped-def]
        return client.V1Container(name="c", image="repo/job:1.0", **kw)

    assert kube.container_argv(container(command=["etl"], args=["run"])) == ["etl", "run"]
    assert kube.container_argv(container(args=["etl", "run"])) == ["etl", "run"]
    mapped = {"repo/job": ["python", "-m", "job"]}
    assert kube.container_argv(container(args=["--x"]), mapped) == ["python", "-m", "job", "--x"]
    with pytest.raises(RuntimeError, match="no command or args"):
        kube.container_argv(container())


def test_mount_paths_in_env_and_env_from_values_become_the_volumes_folders(tmp_path: Path):
    """A ConfigMap's `LANDING_DIR=/data/landing` reaches the process as the PVC's folder,
    as a value in `env` does (there is no mount namespace). The API read is replaced."""
    from kubernetes import client

    node = kube.TestNode(client.ApiClient(), tmp_path)
    node._ref = lambda kind, ns, name, key, optional: {  # type: ignore[method-assign]
        "LANDING_DIR": "/data/landing",
        "OTHER": "/elsewhere",
    }
    container = client.V1Container(
        name="c",
        env=[client.V1EnvVar(name="STAGING_DIR", value="/data/staging")],
        env_from=[client.V1EnvFromSource(config_map_ref=client.V1ConfigMapEnvSource(name="cm"))],
        volume_mounts=[client.V1VolumeMount(name="etl-data", mount_path="/data")],
    )
    pod = client.V1Pod(metadata=client.V1ObjectMeta(name="p", namespace="ns"))
    mapped = node._mapper(container, {"etl-data": tmp_path / "pvc"})
    env = node.environment(pod, container, mapped)
    assert env["LANDING_DIR"] == str(tmp_path / "pvc" / "landing")
    assert env["STAGING_DIR"] == str(tmp_path / "pvc" / "staging")
    assert env["OTHER"] == "/elsewhere"
