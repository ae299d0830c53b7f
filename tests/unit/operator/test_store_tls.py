"""An ObjectStore's TLS Secret (spec.gateway.tls.secretName): HTTPS gateways roll out only once
it holds a certificate and key (mounted, probes and Service on HTTPS, an https endpoint); a
missing or unusable one is Ready=False with what to do and one Event. The operator's own
clients verify the gateways' certificate against the Secret's authority, never nothing."""

from __future__ import annotations

import base64
import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nimbus_operator.clients.admin import AdminClient, AdminEndpoint
from nimbus_operator.clients.s3 import S3Client
from nimbus_operator.clients.tls import boto_verify
from nimbus_operator.errors import RetryLater
from nimbus_operator.reconcilers.bucket.store_access import find_store
from nimbus_operator.reconcilers.objectstore import reconcile_store
from nimbus_operator.reconcilers.objectstore.store import StoreReport
from nimbus_operator.render.image_import import (
    ImageImport,
    build_image_ca_configmap,
    build_image_data_volume,
)
from nimbus_operator.settings import OperatorSettings

from tests.support.tls import TlsFiles, make_tls_files
from tests.unit.operator.bucket_fakes import FakeKube, object_store
from tests.unit.operator.test_store_encryption import KEYS, key_secret

TLS = "photos-tls"
REVISION = "storage.nimbus.dev/tls-revision"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"), hosts=("localhost", "photos.media.svc"))


@pytest.fixture(scope="module")
def other_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """Another authority's: what a client must not accept for ``files``."""
    return make_tls_files(tmp_path_factory.mktemp("other"))


def store_body(**gateway: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"nodes": {"count": 3}, "gateway": gateway}
    return {
        "apiVersion": "storage.nimbus.dev/v1alpha1",
        "kind": "ObjectStore",
        "metadata": {"name": "photos", "namespace": "media", "uid": "uid-photos", "generation": 1},
        "spec": spec,
    }


def tls_secret(kube: FakeKube, data: dict[str, str], name: str = TLS) -> None:
    kube.put(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": "media"},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        }
    )


def pem_files(files: TlsFiles, *, ca: bool = True) -> dict[str, str]:
    data = {"tls.crt": files.cert.read_text(), "tls.key": files.key.read_text()}
    if ca:
        data["ca.crt"] = files.ca.read_text()
    return data


def reconcile(kube: FakeKube, body: dict[str, Any]) -> StoreReport:
    _design, report = reconcile_store(kube, body, OperatorSettings())
    return report


def ready(report: StoreReport) -> tuple[bool, str, str]:
    found = [c for c in report.conditions if c[0] == "Ready"]
    assert len(found) == 1, report.conditions
    return found[0][1:]


def published(body: dict[str, Any], report: StoreReport) -> dict[str, Any]:
    conditions = [
        {"type": t, "status": "True" if holds else "False", "reason": r, "message": m}
        for t, holds, r, m in report.conditions
    ]
    return {**body, "status": {"phase": report.phase, "conditions": conditions}}


def gateway(kube: FakeKube, name: str = "photos-gateway") -> dict[str, Any] | None:
    return kube.get("apps/v1", "Deployment", name, "media")


def test_a_missing_tls_secret_holds_the_gateways_back_and_says_how_to_make_it() -> None:
    kube = FakeKube()
    body = store_body(tls={"secretName": TLS})

    report = reconcile(kube, body)

    assert gateway(kube) is None
    assert gateway(kube, "photos-janitor") is None
    service = kube.get("v1", "Service", "photos", "media")
    assert service is not None
    assert service["spec"]["ports"][0] == {
        "name": "https",
        "port": 443,
        "targetPort": 9000,
        "protocol": "TCP",
        "appProtocol": "https",
    }
    holds, reason, message = ready(report)
    assert (holds, reason) == (False, "TlsSecretMissing")
    assert message == (
        f'Secret "{TLS}" not found in namespace "media": create it with kubectl create secret '
        f"tls {TLS} -n media --cert=tls.crt --key=tls.key (a certificate for photos.media.svc, "
        "e.g. from cert-manager), or point spec.gateway.tls.secretName at an existing one; the "
        "gateways are rolled out once it exists."
    )
    assert report.phase == "Failed"
    assert report.fields["endpoint"] == "https://photos.media.svc"
    assert report.events == [("Warning", "TlsSecretMissing", message)]
    assert reconcile(kube, published(body, report)).events == []


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"tls.crt": "CERT"}, "lacks tls.key"),
        ({}, "lacks tls.crt and tls.key"),
        ({"tls.crt": "not a certificate", "tls.key": "k"}, "has a tls.crt that is not a PEM"),
    ],
)
def test_an_unusable_tls_secret_is_refused_as_well(data: dict[str, str], problem: str) -> None:
    kube = FakeKube()
    tls_secret(kube, data)

    report = reconcile(kube, store_body(tls={"secretName": TLS}))

    assert gateway(kube) is None
    holds, reason, message = ready(report)
    assert (holds, reason) == (False, "TlsSecretInvalid")
    assert message.startswith(f'Secret "{TLS}" in namespace "media" {problem}')


def test_a_bad_ca_crt_is_refused(files: TlsFiles) -> None:
    kube = FakeKube()
    tls_secret(kube, {**pem_files(files, ca=False), "ca.crt": "junk"})

    report = reconcile(kube, store_body(tls={"secretName": TLS}))

    assert ready(report)[1] == "TlsSecretInvalid"
    assert "has a ca.crt that is not a PEM certificate" in ready(report)[2]


@pytest.mark.parametrize("janitor", [False, True])
def test_https_gateways_mount_the_certificate_and_probe_over_https(
    files: TlsFiles, janitor: bool
) -> None:
    kube = FakeKube()
    tls_secret(kube, pem_files(files))

    report = reconcile(kube, store_body(tls={"secretName": TLS}))

    deployment = gateway(kube, "photos-janitor" if janitor else "photos-gateway")
    assert deployment is not None
    template = deployment["spec"]["template"]
    pod = template["spec"]
    container = pod["containers"][0]
    assert "--tls-cert=/etc/nimbus/tls/tls.crt" in container["command"]
    assert "--tls-key=/etc/nimbus/tls/tls.key" in container["command"]
    assert "--trust-forwarded-proto" not in container["command"]
    assert container["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    assert container["livenessProbe"]["httpGet"]["scheme"] == "HTTPS"
    assert {"name": "tls", "mountPath": "/etc/nimbus/tls", "readOnly": True} in (
        container["volumeMounts"]
    )
    volume = next(v for v in pod["volumes"] if v["name"] == "tls")
    assert volume["secret"]["secretName"] == TLS
    assert volume["secret"]["defaultMode"] == 0o400
    assert pod["securityContext"] == {"fsGroup": 65532}
    assert len(template["metadata"]["annotations"][REVISION]) == 16
    assert ready(report)[1] == "Starting"
    assert report.fields["endpoint"] == "https://photos.media.svc"


def test_a_renewed_certificate_rolls_the_gateways(files: TlsFiles, other_files: TlsFiles) -> None:
    kube = FakeKube()
    tls_secret(kube, pem_files(files))
    reconcile(kube, store_body(tls={"secretName": TLS}))
    first = gateway(kube)
    tls_secret(kube, pem_files(other_files))

    reconcile(kube, store_body(tls={"secretName": TLS}))

    second = gateway(kube)
    assert first is not None
    assert second is not None
    revisions = [
        d["spec"]["template"]["metadata"]["annotations"][REVISION] for d in (first, second)
    ]
    assert revisions[0] != revisions[1]


def test_the_secret_made_later_rolls_the_gateways_out_with_an_event(files: TlsFiles) -> None:
    kube = FakeKube()
    body = store_body(tls={"secretName": TLS}, port=8443)
    missing = reconcile(kube, body)
    tls_secret(kube, pem_files(files))

    found = reconcile(kube, published(body, missing))

    assert gateway(kube) is not None
    assert found.fields["endpoint"] == "https://photos.media.svc:8443"
    assert (
        "Normal",
        "TlsSecretFound",
        f'Secret "{TLS}" holds a certificate: rolling out the gateways with HTTPS.',
    ) in found.events


def test_the_key_secret_and_the_tls_secret_missing_report_one_at_a_time(files: TlsFiles) -> None:
    kube = FakeKube()
    body = store_body(tls={"secretName": TLS})
    body["spec"]["encryption"] = {"keySecretName": KEYS}
    first = reconcile(kube, body)
    assert ready(first)[1] == "KeySecretMissing"
    assert reconcile(kube, published(body, first)).events == []
    key_secret(kube, {"sse-s3": "1:" + base64.b64encode(bytes(32)).decode()})

    second = reconcile(kube, published(body, first))

    assert gateway(kube) is None
    assert ready(second)[1] == "TlsSecretMissing"
    assert [e[1] for e in second.events] == ["TlsSecretMissing"]
    tls_secret(kube, pem_files(files))
    third = reconcile(kube, published(body, second))
    assert gateway(kube) is not None
    assert [e[1] for e in third.events] == ["TlsSecretFound"]


def test_plain_gateways_may_trust_a_proxys_forwarded_proto() -> None:
    kube = FakeKube()

    report = reconcile(kube, store_body(trustForwardedProto=True))

    deployment = gateway(kube)
    assert deployment is not None
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert "--trust-forwarded-proto" in container["command"]
    assert not any(arg.startswith("--tls-") for arg in container["command"])
    assert "scheme" not in container["readinessProbe"]["httpGet"]
    assert report.fields["endpoint"] == "http://photos.media.svc"


# -- what Buckets, BucketAccesses and Images reach the store with ------------------------------


def https_store(kube: FakeKube, secret: dict[str, str]) -> None:
    store = object_store(kube, "media", "photos")
    store["spec"]["gateway"] = {"tls": {"secretName": TLS}}
    store["status"]["endpoint"] = "https://photos.media.svc"
    tls_secret(kube, secret)


@pytest.mark.parametrize("with_ca", [True, False])
def test_buckets_reach_an_https_store_trusting_its_authority(
    files: TlsFiles, with_ca: bool
) -> None:
    kube = FakeKube()
    https_store(kube, pem_files(files, ca=with_ca))

    access = find_store(kube, "media", "photos", "media")

    assert access.admin.url == "https://photos.media.svc"
    # ca.crt when the Secret has one, else tls.crt itself (a self-signed certificate).
    expected = files.ca if with_ca else files.cert
    assert access.admin.ca_pem == expected.read_text()
    assert access.location("b").port == 443


def test_a_plain_store_is_reached_without_an_authority() -> None:
    kube = FakeKube()
    object_store(kube, "media", "photos")

    assert find_store(kube, "media", "photos", "media").admin.ca_pem is None


def test_an_https_image_import_gives_cdi_the_stores_authority() -> None:
    spec = ImageImport("vms", "debian", "uid-1", "https://s.ns.svc/b/k?X-Amz=1", 2**30, "PEM")

    volume = build_image_data_volume(spec)
    config_map = build_image_ca_configmap(spec)

    assert volume["spec"]["source"]["http"] == {
        "url": "https://s.ns.svc/b/k?X-Amz=1",
        "certConfigMap": "debian-image-ca",
    }
    assert config_map["metadata"]["name"] == "debian-image-ca"
    assert config_map["metadata"]["ownerReferences"][0]["name"] == "debian"
    assert config_map["data"] == {"ca.pem": "PEM"}
    plain = build_image_data_volume(ImageImport("vms", "d", "u", "http://x/y", 1))
    assert plain["spec"]["source"]["http"] == {"url": "http://x/y"}


# -- the clients verify the gateway's certificate, for real ---------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(json.dumps({"photos": {"bytes": 5, "objects": 1}}).encode())

    def do_HEAD(self) -> None:
        self._answer(b"hello")

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(scope="module")
def https_url(files: TlsFiles) -> Iterator[str]:
    """A stand-in gateway serving HTTPS with ``files``'s certificate (127.0.0.1)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(files.cert, files.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def endpoint(url: str, ca: Path | None) -> AdminEndpoint:
    return AdminEndpoint(url, "ADMIN", "secret", "us-east-1", ca.read_text() if ca else None)


def test_the_admin_client_trusts_the_stores_authority_and_nothing_else(
    https_url: str, files: TlsFiles, other_files: TlsFiles
) -> None:
    assert AdminClient(endpoint(https_url, files.ca)).usage() == {
        "photos": {"bytes": 5, "objects": 1}
    }
    for untrusted in (None, other_files.ca):
        with pytest.raises(RetryLater, match="CERTIFICATE_VERIFY_FAILED"):
            AdminClient(endpoint(https_url, untrusted)).usage()


def test_the_s3_client_trusts_the_stores_authority_and_nothing_else(
    https_url: str, files: TlsFiles, other_files: TlsFiles
) -> None:
    assert S3Client(endpoint(https_url, files.ca)).object_size("photos", "k") == 5
    for untrusted in (None, other_files.ca):
        with pytest.raises(RetryLater, match="unreachable"):
            S3Client(endpoint(https_url, untrusted)).object_size("photos", "k")


def test_botocore_gets_the_authority_as_a_file(files: TlsFiles) -> None:
    ca = files.ca.read_text()

    path = boto_verify(ca)

    assert isinstance(path, str)
    assert Path(path).read_text() == ca
    assert boto_verify(ca) == path
    assert boto_verify(None) is True
