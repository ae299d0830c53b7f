"""The stand-in's guest launches (pure): a VMI's launch, the guest launcher pod, the VMI phase
a launcher's report allows, and KubeVirt's start-failure back-off."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from e2e.kubevirt_standin import manifests, status
from e2e.kubevirt_standin.guests import GuestMode, Guests
from e2e.kubevirt_standin.launch import LAUNCH_ENV, launch_for, secret_mount
from e2e.kubevirt_standin.vm import start_failure
from e2e.kubevirt_standin.vmi import guest_event, guest_failure

Obj = dict[str, Any]


def _vmi(**spec: Any) -> Obj:
    return {
        "metadata": {"name": "web-1", "namespace": "apps", "uid": "vmi-uid", "labels": {}},
        "spec": {
            "domain": {
                "cpu": {"cores": 2, "sockets": 1, "threads": 1},
                "memory": {"guest": "1536Mi"},
                "devices": {
                    "disks": [
                        {"name": "cloudinitdisk", "disk": {"bus": "virtio"}},
                        {"name": "data", "serial": "data", "disk": {"bus": "virtio"}},
                        {"name": "rootdisk", "bootOrder": 1, "disk": {"bus": "virtio"}},
                    ],
                    "interfaces": [
                        {
                            "name": "default",
                            "masquerade": {},
                            "ports": [
                                {"name": "ssh", "port": 22},
                                {"name": "dns", "port": 53, "protocol": "UDP"},
                            ],
                        }
                    ],
                },
            },
            "volumes": [
                {"name": "rootdisk", "dataVolume": {"name": "web-1-root"}},
                {
                    "name": "cloudinitdisk",
                    "cloudInitNoCloud": {
                        "secretRef": {"name": "ci"},
                        "networkDataBase64": base64.b64encode(b"version: 2\n").decode(),
                    },
                },
                {"name": "data", "persistentVolumeClaim": {"claimName": "web-1-data"}},
            ],
            **spec,
        },
    }


def _resolve(volume: Obj) -> Obj | str:
    if "dataVolume" in volume:
        return {"path": f"/dv/{volume['dataVolume']['name']}/disk.qcow2"}
    if "persistentVolumeClaim" in volume:
        return {"path": f"/dv/{volume['persistentVolumeClaim']['claimName']}/disk.qcow2"}
    return f"cannot attach {volume['name']}"


def test_a_launch_boots_the_root_disk_first_with_the_vmi_s_size_ports_and_cloud_init() -> None:
    launch = launch_for(_vmi(), Path("/state/launchers/vmi-uid"), _resolve)
    assert launch["problems"] == []
    assert [disk["name"] for disk in launch["disks"]] == ["rootdisk", "data"]
    assert launch["disks"][0]["path"] == "/dv/web-1-root/disk.qcow2"
    assert launch["disks"][1]["serial"] == "data"
    assert (launch["cpus"], launch["memoryMiB"]) == (2, 1536)
    assert launch["ports"] == [{"port": 22, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]
    assert launch["cloudInit"] == {
        "userDataDir": secret_mount("cloudinitdisk", "userdata"),
        "networkData": "version: 2\n",
    }
    assert launch["instanceId"] == "web-1.apps"
    assert launch["hostname"] == "web-1"


def test_what_cannot_be_attached_is_a_problem_not_a_smaller_guest() -> None:
    vmi = _vmi()
    vmi["spec"]["volumes"][2] = {"name": "data", "emptyDisk": {"capacity": "1Gi"}}
    launch = launch_for(vmi, Path("/w"), _resolve)
    assert launch["problems"] == ["cannot attach data"]


def test_without_declared_ports_ssh_is_forwarded_and_cpus_come_from_the_request() -> None:
    vmi = _vmi()
    domain = vmi["spec"]["domain"]
    del domain["cpu"], domain["memory"]
    domain["resources"] = {"requests": {"cpu": "1500m", "memory": "2Gi"}}
    domain["devices"]["interfaces"] = [{"name": "default", "masquerade": {}}]
    launch = launch_for(vmi, Path("/w"), _resolve)
    assert (launch["cpus"], launch["memoryMiB"]) == (2, 2048)
    assert launch["ports"] == [{"port": 22, "protocol": "TCP"}]


def test_the_guest_launcher_pod_mounts_state_and_the_cloud_init_secret() -> None:
    vmi = _vmi()
    launch = launch_for(vmi, Path("/state/launchers/vmi-uid"), _resolve)
    pod = manifests.guest_launcher_pod(vmi, launch, Path("/state"))
    container = pod["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "e2e.kubevirt_standin.launcher"]
    env = {item["name"]: item for item in container["env"]}
    assert json.loads(env[LAUNCH_ENV]["value"]) == launch
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod["spec"]["volumes"]}
    assert volumes[mounts["/state"]]["hostPath"]["path"] == "/state"
    secret = volumes[mounts[secret_mount("cloudinitdisk", "userdata")]]
    assert secret["secret"]["secretName"] == "ci"
    assert manifests.is_guest_launcher(pod)
    assert not manifests.is_guest_launcher(manifests.launcher_pod(vmi))


def _pod(phase: str) -> Obj:
    return {
        "metadata": {"name": "p", "uid": "pod-uid"},
        "spec": {"nodeName": "n", "containers": [{"image": "i"}]},
        "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True"}]},
    }


def test_a_guest_vmi_is_scheduled_while_its_guest_boots_and_running_once_it_is_up() -> None:
    def phase(current: str, pod_phase: str, guest_phase: str | None) -> str:
        vmi = {"metadata": {"uid": "u"}, "status": {"phase": current}}
        guest = {"phase": guest_phase} if guest_phase else {}
        return status.next_vmi_phase(vmi, _pod(pod_phase), guest)

    assert phase("Scheduling", "Pending", None) == "Scheduling"
    assert phase("Scheduling", "Running", "Booting") == "Scheduled"
    assert phase("Scheduled", "Running", "Booting") == "Scheduled"
    assert phase("Scheduled", "Running", "Running") == "Running"
    assert phase("Running", "Running", "Running") == "Running"
    assert phase("Scheduled", "Failed", "Failed") == "Failed"


def test_a_failed_guest_s_message_is_the_vmi_s_ready_condition() -> None:
    vmi = {"metadata": {"uid": "u"}, "spec": {}, "status": {"phase": "Scheduled"}}
    written = status.vmi_status(
        vmi, _pod("Failed"), "Failed", "now", guest_failure="the guest did not boot: x"
    )
    assert written["reason"] == "GuestFailed"
    (ready,) = [c for c in written["conditions"] if c["type"] == "Ready"]
    assert (ready["status"], ready["message"]) == ("False", "the guest did not boot: x")


def _failed_vmi(uid: str, ran: bool) -> Obj:
    phases = ["Pending", "Scheduled", *(["Running"] if ran else []), "Failed"]
    return {
        "metadata": {"uid": uid},
        "status": {
            "phase": "Failed",
            "phaseTransitionTimestamps": [
                {"phase": p, "phaseTransitionTimestamp": "t"} for p in phases
            ],
        },
    }


def test_start_failures_back_off_doubling_and_a_vmi_that_ran_is_no_start_failure() -> None:
    vm: Obj = {"metadata": {"uid": "vm"}, "status": {}}
    first = start_failure(vm, _failed_vmi("a", ran=False), 0.0)
    assert first is not None
    assert first["consecutiveFailCount"] == 1
    assert first["retryAfterTimestamp"] == "1970-01-01T00:00:10Z"
    assert start_failure({"status": {"startFailure": first}}, _failed_vmi("a", False), 5.0) == first
    second = start_failure({"status": {"startFailure": first}}, _failed_vmi("b", False), 100.0)
    assert second is not None
    assert second["consecutiveFailCount"] == 2
    assert second["retryAfterTimestamp"] == "1970-01-01T00:02:00Z"  # 100 s + 2 x 10 s
    assert start_failure(vm, _failed_vmi("c", ran=True), 0.0) is None


def _dv(name: str, uid: str) -> Obj:
    return {"metadata": {"name": name, "namespace": "apps", "uid": uid}}


def test_disks_resolve_to_their_datavolume_s_files_or_say_why_not(tmp_path: Path) -> None:
    guests = Guests(GuestMode.ALL, tmp_path)
    dvs = {"web-1-root": _dv("web-1-root", "0123456789ab")}
    disk = guests.datavolume_dir_of(dvs["web-1-root"]) / "disk.qcow2"

    def resolve(volume: Obj) -> Obj | str:
        return guests.resolve_disk("apps", volume, lambda _ns, name: dvs.get(name))

    root = {"name": "rootdisk", "dataVolume": {"name": "web-1-root"}}
    assert "holds no imported disk" in str(resolve(root))
    disk.parent.mkdir(parents=True)
    disk.write_bytes(b"")
    assert resolve(root) == {"path": str(disk)}
    claim = {"name": "logs", "persistentVolumeClaim": {"claimName": "web-1-root"}}
    assert resolve(claim) == {"path": str(disk)}
    other = {"name": "logs", "persistentVolumeClaim": {"claimName": "made-by-hand"}}
    assert "was not made by a DataVolume" in str(resolve(other))
    pulled = {"name": "rootdisk", "containerDisk": {"image": "quay.io/containerdisks/debian:12"}}
    assert "cannot be pulled" in str(resolve(pulled))
    assert "cannot attach emptyDisk" in str(resolve({"name": "x", "emptyDisk": {}}))


def test_a_deleted_datavolume_s_files_go_and_others_stay(tmp_path: Path) -> None:
    guests = Guests(GuestMode.ALL, tmp_path)
    gone = guests.datavolume_dir_of(_dv("web", "aaaaaaaa-1"))
    kept = guests.datavolume_dir_of(_dv("web-data", "bbbbbbbb-2"))
    for directory in (gone, kept):
        directory.mkdir(parents=True)
        (directory / "disk.qcow2").write_bytes(b"x")
    guests.forget_datavolume("apps", "web")
    assert not gone.exists()
    assert kept.exists()


def test_only_labelled_namespaces_boot_guests_in_labelled_mode(tmp_path: Path) -> None:
    assert not Guests(GuestMode.NONE, tmp_path).boot_in("apps")
    assert Guests(GuestMode.ALL, tmp_path).boot_in("apps")
    assert not Guests(GuestMode.LABELLED, tmp_path).boot_in("apps")  # no API: not labelled


def test_a_guest_s_start_and_failure_are_told_with_the_accelerator_and_why_not_kvm() -> None:
    guest = {"accel": "tcg", "kvmError": "failed to set MSR 0x10a", "upSeconds": 41.6}
    assert guest_event(guest, "Running", None) == (
        "Normal",
        "GuestUp",
        "The guest is up after 42 s, under tcg (KVM not used: failed to set MSR 0x10a)",
    )
    failed = guest_event({"accel": "kvm"}, "Failed", "the guest did not boot: x")
    assert failed == ("Warning", "GuestFailed", "the guest did not boot: x")


def test_a_spec_that_cannot_be_read_is_a_problem_not_a_crash() -> None:
    vmi = _vmi()
    vmi["spec"]["volumes"][1]["cloudInitNoCloud"]["networkDataBase64"] = "%%% not base64"
    vmi["spec"]["domain"]["memory"]["guest"] = "lots"
    launch = launch_for(vmi, Path("/w"), _resolve)
    assert len(launch["problems"]) == 1
    assert "cannot be launched" in launch["problems"][0]


def test_the_grace_period_is_kubevirt_s_default_unless_given_and_zero_stays_zero() -> None:
    assert launch_for(_vmi(), Path("/w"), _resolve)["graceSeconds"] == 180
    given = launch_for(_vmi(terminationGracePeriodSeconds=0), Path("/w"), _resolve)
    assert given["graceSeconds"] == 0


def test_a_failed_guest_says_its_own_words_else_what_became_of_its_pod() -> None:
    failed = {"phase": "Failed", "message": "the guest did not boot: x"}
    assert guest_failure(failed, _pod("Failed")) == "the guest did not boot: x"
    deleted = _pod("Running")
    deleted["metadata"]["deletionTimestamp"] = "now"
    assert guest_failure({"phase": "Booting", "message": "booting under tcg"}, deleted) == (
        "the launcher pod was deleted while the guest was booting"
    )
    assert "without a report" in guest_failure({}, _pod("Failed"))
