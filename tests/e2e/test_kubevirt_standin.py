"""VirtualMachines in the local cluster go through KubeVirt's states, driven by the stand-in for
virt-controller (``e2e.kubevirt_standin``): launcher pods placed by the real scheduler and run by
the node agent, VMI phases, printable statuses, DataVolumes imported (or not) from real sources."""

from __future__ import annotations

import http.server
import ipaddress
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from e2e.cluster.kwok import ZONES, node_name
from e2e.kubevirt_standin.objects import IMPORT_RESULT_ANNOTATION
from e2e.nodeagent.network import POD_CIDR
from tests.e2e.kubevirt_helpers import (
    STEP_TIMEOUT,
    STOP_TIMEOUT,
    KubeVirtApi,
    StatusRecorder,
    condition,
    datavolume_template,
    status,
    vm_manifest,
)
from tests.e2e.waiting import wait_until

pytestmark = pytest.mark.e2e

NODES = {node_name(zone) for zone in ZONES}


@pytest.fixture
def kubevirt(custom_objects: client.CustomObjectsApi, namespace: str) -> KubeVirtApi:
    return KubeVirtApi(custom_objects, namespace)


def _launcher_pods(core_v1: client.CoreV1Api, namespace: str, vm: str) -> list[Any]:
    pods = core_v1.list_namespaced_pod(
        namespace, label_selector=f"kubevirt.io=virt-launcher,vm.kubevirt.io/name={vm}"
    ).items
    return list(pods)


def _start(kubevirt: KubeVirtApi, name: str, **options: Any) -> dict[str, Any]:
    kubevirt.create_vm(vm_manifest(name, **options))
    return kubevirt.wait_vm_status(name, "Running")


def test_a_vm_with_run_strategy_always_runs_on_a_node_with_the_launcher_pods_ip(
    kubevirt: KubeVirtApi, core_v1: client.CoreV1Api, namespace: str
) -> None:
    vm = _start(kubevirt, "web")

    vmi = kubevirt.vmi("web")
    assert vmi is not None
    vmi_status = status(vmi)
    assert vmi_status["phase"] == "Running"
    # Scheduling may be skipped: on a busy machine the scheduler can bind the launcher pod
    # before the controller's next look, and the VMI goes from Pending to Scheduled.
    phases = [step["phase"] for step in vmi_status["phaseTransitionTimestamps"]]
    assert phases in (
        ["Pending", "Scheduling", "Scheduled", "Running"],
        ["Pending", "Scheduled", "Running"],
    )
    assert vmi_status["nodeName"] in NODES
    owner = vmi["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "VirtualMachine",
        "web",
        vm["metadata"]["uid"],
        True,
    )
    (pod,) = _launcher_pods(core_v1, namespace, "web")
    assert pod.metadata.name.startswith("virt-launcher-web-")
    assert len(pod.metadata.name) == len("virt-launcher-web-") + 5
    assert pod.metadata.labels["kubevirt.io/created-by"] == vmi["metadata"]["uid"]
    assert pod.status.phase == "Running"
    assert pod.spec.node_name == vmi_status["nodeName"]
    (interface,) = vmi_status["interfaces"]
    assert interface["name"] == "default"
    assert interface["ipAddress"] == pod.status.pod_ip
    assert interface["ipAddresses"] == [pod.status.pod_ip]
    assert ipaddress.ip_address(pod.status.pod_ip) in ipaddress.ip_network(POD_CIDR)
    assert condition(vmi, "Ready") is not None
    assert condition(vmi, "Ready")["status"] == "True"  # type: ignore[index]
    vm_status = status(vm)
    assert vm_status["ready"] is True
    assert vm_status["created"] is True
    assert vm_status["runStrategy"] == "Always"
    assert vm_status["observedGeneration"] == vm["metadata"]["generation"]
    assert condition(vm, "Ready")["status"] == "True"  # type: ignore[index]


def test_halted_stops_the_vm_and_running_true_starts_it_again(
    kubevirt: KubeVirtApi,
    core_v1: client.CoreV1Api,
    custom_objects: client.CustomObjectsApi,
    namespace: str,
) -> None:
    _start(kubevirt, "stopper")

    with StatusRecorder(custom_objects, namespace, "stopper") as recorder:
        kubevirt.patch_vm("stopper", {"spec": {"runStrategy": "Halted"}})
        vm = kubevirt.wait_vm_status("stopper", "Stopped", STOP_TIMEOUT)
    assert recorder.seen[-2:] == ["Stopping", "Stopped"]
    assert kubevirt.vmi("stopper") is None
    assert _launcher_pods(core_v1, namespace, "stopper") == []
    assert status(vm).get("ready") is None
    assert condition(vm, "Ready")["reason"] == "VMINotExists"  # type: ignore[index]

    # The deprecated spec.running works too (the two fields are exclusive).
    kubevirt.patch_vm("stopper", {"spec": {"runStrategy": None, "running": True}})
    kubevirt.wait_vm_status("stopper", "Running")


def test_deleting_the_vmi_of_an_always_vm_restarts_it_with_a_new_vmi(
    kubevirt: KubeVirtApi, custom_objects: client.CustomObjectsApi, namespace: str
) -> None:
    _start(kubevirt, "rebooter")
    first = kubevirt.vmi("rebooter")
    assert first is not None

    with StatusRecorder(custom_objects, namespace, "rebooter") as recorder:
        kubevirt.delete("virtualmachineinstances", "rebooter")
        second = wait_until(
            lambda: kubevirt.vmi("rebooter"),
            lambda vmi: (
                vmi is not None
                and vmi["metadata"]["uid"] != first["metadata"]["uid"]
                and status(vmi).get("phase") == "Running"
            ),
            "a new Running VMI",
            STOP_TIMEOUT + STEP_TIMEOUT,
        )
        kubevirt.wait_vm_status("rebooter", "Running")
        recorder.wait_until_last("Running")
    assert second is not None
    assert "Stopping" in recorder.seen


def test_a_vm_no_node_can_take_is_error_unschedulable(
    kubevirt: KubeVirtApi, core_v1: client.CoreV1Api, namespace: str
) -> None:
    kubevirt.create_vm(
        vm_manifest("nowhere", node_selector={"topology.kubernetes.io/zone": "no-such-zone"})
    )

    vm = kubevirt.wait_vm_status("nowhere", "ErrorUnschedulable")

    scheduled = condition(vm, "PodScheduled")
    assert scheduled is not None
    assert (scheduled["status"], scheduled["reason"]) == ("False", "Unschedulable")
    assert "didn't match Pod's node affinity/selector" in scheduled["message"]
    vmi = kubevirt.vmi("nowhere")
    assert vmi is not None
    assert status(vmi)["phase"] == "Scheduling"
    (pod,) = _launcher_pods(core_v1, namespace, "nowhere")
    assert pod.status.phase == "Pending"
    assert pod.spec.node_selector == {"topology.kubernetes.io/zone": "no-such-zone"}


def test_a_launcher_pod_the_api_server_refuses_is_reported_on_the_vm(
    kubevirt: KubeVirtApi,
) -> None:
    manifest = vm_manifest("refused")
    manifest["spec"]["template"]["spec"]["priorityClassName"] = "no-such-priority"
    kubevirt.create_vm(manifest)

    def synchronized() -> dict[str, Any] | None:
        vm = kubevirt.vm("refused")
        return condition(vm, "Synchronized") if vm is not None else None

    found = wait_until(
        synchronized, lambda c: c is not None, "the VM's Synchronized condition", STEP_TIMEOUT
    )
    assert found is not None
    assert (found["status"], found["reason"]) == ("False", "FailedCreate")
    assert "no-such-priority" in found["message"]
    vm = kubevirt.vm("refused")
    assert vm is not None
    assert status(vm)["printableStatus"] == "Starting"


def test_an_unreachable_http_source_is_a_datavolume_error(kubevirt: KubeVirtApi) -> None:
    # Port 9 (discard) on loopback: nothing listens, so the connection is refused.
    root = datavolume_template("offline-root", {"http": {"url": "http://127.0.0.1:9/disk.img"}})
    kubevirt.create_vm(vm_manifest("offline", data_volumes=[root]))

    vm = kubevirt.wait_vm_status("offline", "DataVolumeError")

    dv = kubevirt.dv("offline-root")
    assert dv is not None
    assert status(dv)["phase"] == "Failed"
    running = condition(dv, "Running")
    assert running is not None
    assert running["reason"] == "Error"
    assert "Connection refused" in running["message"]
    assert dv["metadata"]["ownerReferences"][0]["uid"] == vm["metadata"]["uid"]
    assert dv["metadata"]["labels"]["kubevirt.io/created-by"] == vm["metadata"]["uid"]
    assert kubevirt.vmi("offline") is None, "no VMI starts before its disks are imported"


class _ImageServer(http.server.BaseHTTPRequestHandler):
    BODY = b"\0" * 4096

    def do_GET(self) -> None:
        """The first byte, as the importer's ranged GET asks."""
        if self.path != "/images/disk.img":
            self.send_error(404)
            return
        self.send_response(206)
        self.send_header("Content-Range", f"bytes 0-0/{len(self.BODY)}")
        self.send_header("Content-Length", "1")
        self.end_headers()
        self.wfile.write(self.BODY[:1])

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def image_server() -> Iterator[str]:
    """An HTTP server on 127.0.0.1 with one image; its base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ImageServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join()


def test_a_reachable_http_source_is_imported_and_the_vm_runs(
    kubevirt: KubeVirtApi, image_server: str
) -> None:
    good = datavolume_template("good-root", {"http": {"url": f"{image_server}/images/disk.img"}})
    missing = datavolume_template("missing-root", {"http": {"url": f"{image_server}/nope.img"}})
    marked = datavolume_template(
        "marked-root",
        {"http": {"url": f"{image_server}/images/disk.img"}},
        annotations={IMPORT_RESULT_ANNOTATION: "fail"},
    )
    kubevirt.create_vm(vm_manifest("good", data_volumes=[good]))
    kubevirt.create_vm(vm_manifest("missing", data_volumes=[missing]))
    kubevirt.create_vm(vm_manifest("marked", data_volumes=[marked]))

    kubevirt.wait_vm_status("good", "Running")
    kubevirt.wait_vm_status("missing", "DataVolumeError")
    kubevirt.wait_vm_status("marked", "DataVolumeError")

    dv = kubevirt.dv("good-root")
    assert dv is not None
    assert (status(dv)["phase"], status(dv)["progress"]) == ("Succeeded", "100.0%")
    assert condition(dv, "Ready")["status"] == "True"  # type: ignore[index]
    failed = kubevirt.dv("missing-root")
    assert failed is not None
    assert "HTTP 404" in condition(failed, "Running")["message"]  # type: ignore[index]


def test_deleting_a_vm_removes_its_vmi_launcher_pod_and_datavolumes(
    kubevirt: KubeVirtApi, core_v1: client.CoreV1Api, namespace: str
) -> None:
    scratch = datavolume_template("doomed-scratch", {"blank": {}})
    kubevirt.create_vm(vm_manifest("doomed", data_volumes=[scratch]))
    kubevirt.wait_vm_status("doomed", "Running")
    assert kubevirt.dv("doomed-scratch") is not None

    kubevirt.delete("virtualmachines", "doomed")

    kubevirt.wait_gone("virtualmachines", "doomed")
    assert kubevirt.vmi("doomed") is None
    wait_until(
        lambda: _launcher_pods(core_v1, namespace, "doomed"),
        lambda pods: pods == [],
        "the launcher pod gone",
        STOP_TIMEOUT,
    )
    # DataVolumes go with the garbage collector (they are owned by the VM).
    kubevirt.wait_gone("datavolumes", "doomed-scratch", STOP_TIMEOUT + STEP_TIMEOUT)
