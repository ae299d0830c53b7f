"""Pure parts of e2e.cluster: PKI, kubeconfigs, command lines, kwok config, build decisions."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from e2e.cluster import build, catalog, components
from e2e.cluster.catalog import BinaryPaths, GoComponent
from e2e.cluster.certs import ADMIN, CONTROLLER_MANAGER, generate_pki
from e2e.cluster.kubeconfig import render_kubeconfig
from e2e.cluster.kwok import STAGE_FILES, node_manifests, write_kwok_config
from e2e.cluster.layout import Ports, RunLayout


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_pki_certificates_chain_to_the_ca_with_the_right_names(tmp_path: Path) -> None:
    pki = generate_pki(tmp_path)
    ca = _load(pki.ca.cert)
    server = _load(pki.api_server.cert)
    admin = _load(pki.clients[ADMIN.file_stem].cert)
    kcm = _load(pki.clients[CONTROLLER_MANAGER.file_stem].cert)

    for leaf in (server, admin, kcm):
        leaf.verify_directly_issued_by(ca)
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "kubernetes.default.svc" in sans.get_values_for_type(x509.DNSName)
    assert {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)} >= {
        "127.0.0.1",
        "10.0.0.1",
    }
    admin_groups = admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert [a.value for a in admin_groups] == ["system:masters"]
    kcm_user = kcm.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert kcm_user == "system:kube-controller-manager"
    _load(pki.front_proxy_client.cert).verify_directly_issued_by(_load(pki.front_proxy_ca.cert))
    assert stat.S_IMODE(pki.service_account_key.stat().st_mode) == 0o600


def test_kubeconfig_embeds_ca_and_client_certificate(tmp_path: Path) -> None:
    pki = generate_pki(tmp_path)
    admin = pki.clients[ADMIN.file_stem]

    config = render_kubeconfig("https://127.0.0.1:1234", pki.ca.cert, admin, ADMIN.user)

    text = json.dumps(config)
    assert base64.b64encode(pki.ca.cert.read_bytes()).decode() in text
    assert base64.b64encode(admin.key.read_bytes()).decode() in text
    assert config["current-context"] == "nimbus-local"


def test_process_specs_wire_ports_and_files_together(tmp_path: Path) -> None:
    pki = generate_pki(tmp_path / "pki")
    layout = RunLayout(tmp_path)
    ports = Ports.allocate()
    binaries = BinaryPaths.from_cache(tmp_path / "cache")

    nodes = ("nimbus-node-a", "nimbus-node-b")
    specs = {s.name: s for s in components.process_specs(binaries, layout, pki, ports, nodes=nodes)}

    assert list(specs) == list(components.START_ORDER)
    apiserver = specs["kube-apiserver"].argv
    assert f"--etcd-servers=http://127.0.0.1:{ports.etcd_client}" in apiserver
    assert f"--secure-port={ports.api_server}" in apiserver
    assert "--service-cluster-ip-range=10.0.0.0/24" in apiserver
    assert "--bind-address=127.0.0.1" in apiserver
    assert "--authorization-mode=Node,RBAC" in apiserver
    kcm = specs["kube-controller-manager"].argv
    assert "--leader-elect=false" in kcm
    assert f"--root-ca-file={pki.ca.cert}" in kcm
    assert f"--service-account-private-key-file={pki.service_account_key}" in kcm
    kwok = specs["kwok"].argv
    assert "--manage-all-nodes=false" in kwok
    assert "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake" in kwok
    assert not any(arg.startswith("--cidr") for arg in kwok), "pod IPs are the agent's"
    agent = specs["node-agent"]
    assert "--nodes=nimbus-node-a,nimbus-node-b" in agent.argv
    assert f"--healthz-port={ports.node_agent}" in agent.argv
    assert f"--cert={pki.clients['node-agent'].cert}" in agent.argv
    assert agent.env is not None
    assert agent.env["PYTHONPATH"] == str(components.REPO_ROOT)
    assert specs["etcd"].argv[0] == str(tmp_path / "cache" / "etcd-v3.6.16" / "etcd")
    assert specs["etcd"].log_file == tmp_path / "logs" / "etcd.log"


def test_allocated_ports_are_distinct() -> None:
    assert len(set(Ports.allocate().as_dict().values())) == 7


def test_kwok_config_holds_every_stage(tmp_path: Path) -> None:
    path = write_kwok_config(tmp_path / "kwok.yaml")

    documents = list(yaml.safe_load_all(path.read_text()))

    assert [d["kind"] for d in documents] == ["Stage"] * len(STAGE_FILES)
    assert {d["metadata"]["name"] for d in documents} == {
        "node-initialize",
        "node-heartbeat-with-lease",
    }


def test_nodes_are_kwok_managed_zoned_bare_metal() -> None:
    nodes = node_manifests()

    assert [n["metadata"]["name"] for n in nodes] == [  # type: ignore[index]
        "nimbus-node-a",
        "nimbus-node-b",
        "nimbus-node-c",
    ]
    for zone, node in zip("abc", nodes, strict=True):
        metadata = node["metadata"]
        status = node["status"]
        assert isinstance(metadata, dict)
        assert isinstance(status, dict)
        assert metadata["annotations"]["kwok.x-k8s.io/node"] == "fake"
        assert metadata["labels"]["topology.kubernetes.io/zone"] == zone
        assert status["capacity"] == {
            "cpu": "32",
            "memory": "128Gi",
            "pods": "110",
            "ephemeral-storage": "960Gi",
        }


def _fake_binary(path: Path, output: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho '{output}'\n")
    path.chmod(0o755)
    return path


def test_cached_binary_is_reused_only_when_it_reports_the_pinned_version(tmp_path: Path) -> None:
    spec = catalog.component("etcd")
    directory = catalog.component_dir(spec, tmp_path)
    _fake_binary(directory / "etcd", "etcd Version: 3.6.16")
    assert build.is_built(spec, tmp_path)

    _fake_binary(directory / "etcd", "etcd Version: 3.4.23")
    assert not build.is_built(spec, tmp_path)


def test_build_all_skips_cached_components_without_running_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = catalog.component("kwok")
    _fake_binary(catalog.component_dir(spec, tmp_path) / "kwok", "kwok version v0.8.0 go")
    monkeypatch.setenv("PATH", "/nonexistent")  # `go` cannot be found: it must not be needed

    [result] = build.build_all(["kwok"], cache_root=tmp_path)

    assert not result.built


def test_build_all_rejects_unknown_components(tmp_path: Path) -> None:
    with pytest.raises(build.BuildError, match="kubelet"):
        build.build_all(["kubelet"], cache_root=tmp_path)


def test_go_build_command_stamps_versions() -> None:
    kubernetes = catalog.component("kubernetes")
    out = Path("/cache/kubernetes-v1.35.4.partial")

    command = build.go_build_command(kubernetes, out)

    ldflags = command[command.index("-ldflags") + 1]
    assert "-X k8s.io/component-base/version.gitVersion=v1.35.4" in ldflags
    assert command[command.index("-o") + 1] == f"{out}/"
    single = build.go_build_command(catalog.component("etcd"), out)
    assert single[single.index("-o") + 1] == f"{out}/etcd"


def test_every_component_has_a_committed_wrapper_module() -> None:
    for spec in catalog.COMPONENTS:
        go_mod = (spec.gomod_dir / "go.mod").read_text()
        assert (spec.gomod_dir / "go.sum").exists(), spec.name
        assert spec.version in go_mod, spec.name


def test_bin_cache_root_honours_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NIMBUS_BIN_CACHE", str(tmp_path))

    paths = BinaryPaths.from_cache()

    assert paths.kube_apiserver == tmp_path / "kubernetes-v1.35.4" / "kube-apiserver"
    assert paths.missing_for_control_plane()


def test_build_times_are_recorded(tmp_path: Path) -> None:
    spec = GoComponent("demo", "v1", ("x/cmd/demo",), ("demo",), (), ("--version",), "v1")

    build.record_build_time(tmp_path, spec, 12.34, note="test")

    assert build.read_build_times(tmp_path)["demo"]["seconds"] == 12.3
