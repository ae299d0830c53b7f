"""e2e.guest.qemu and e2e.guest.ssh without a real guest: the QEMU command line, the seed's
meta-data, QMP, the SSH banner check, and `Guest`'s KVM-then-TCG logic, `boot_failure`,
`is_up` and `disk_path` against a fake QEMU (a small script that serves QMP and writes a
console and a firmware log), so the fallback is tested on machines where KVM works as well as
here."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import yaml

from e2e.guest import accel, host_tools, qemu
from e2e.guest.image import GuestImage
from e2e.guest.qemu import (
    ExtraDisk,
    Guest,
    GuestError,
    GuestSpec,
    PortForward,
    Qmp,
    qemu_command,
)
from e2e.guest.ssh import keygen, ssh_command

T = TypeVar("T")

FAKE_QEMU = """\
import json, os, socket, sys
args = sys.argv[1:]
def options(name):
    return [args[i + 1] for i, arg in enumerate(args) if arg == name]
accel = options("-accel")[0]
mode = os.environ.get("FAKE_QEMU_MODE", "")
chardevs = {c.split("id=")[1].split(",")[0]: c for c in options("-chardev")}
console = chardevs["console"].split("path=")[1].split(",")[0]
firmware = chardevs["firmware"].split("path=")[1].split(",")[0]
qmp = options("-qmp")[0].removeprefix("unix:").split(",")[0]
if accel == "kvm" and mode == "kvm-broken":
    print("qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69", file=sys.stderr)
    sys.exit(1)
with open(firmware, "a") as out:
    if mode != "kvm-silent" or accel == "tcg":
        out.write("SeaBIOS (version fake)\\nBooting from Hard Disk...\\n")
    if mode == "no-boot":
        out.write("Boot failed: not a bootable disk\\n\\nNo bootable device.\\n")
with open(console, "a") as out:
    if mode == "panic":
        out.write("[    1.2] Kernel panic - not syncing: VFS: Unable to mount root fs\\n")
    elif mode == "login":
        out.write("Welcome to Fake Linux!\\n\\nDebian GNU/Linux 12 web-1 ttyS0\\n\\nweb-1 login: ")
    elif accel == "tcg" or mode == "kvm-works":
        out.write("[    0.000000] Linux version 6.1\\nWelcome to Fake Linux!\\n")
if mode == "crash":
    import threading, time
    def crash():
        time.sleep(1.0)
        print("qemu-system-x86_64: virtio: zero sized buffers are not allowed", file=sys.stderr)
        sys.stderr.flush()
        os._exit(3)
    threading.Thread(target=crash, daemon=True).start()
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(qmp)
server.listen(1)
while True:
    connection, _ = server.accept()
    stream = connection.makefile("rwb")
    stream.write(b'{"QMP": {"version": {}, "capabilities": []}}\\n')
    stream.flush()
    for line in stream:
        command = json.loads(line)["execute"]
        if command == "query-status":
            reply = {"return": {"status": "running", "running": True}}
        elif command == "bogus":
            reply = {"error": {"class": "CommandNotFound", "desc": "no bogus here"}}
        else:
            reply = {"return": {}}
        if command == "system_powerdown":
            stream.write(b'{"event": "POWERDOWN"}\\n')
        stream.write(json.dumps(reply).encode() + b"\\n")
        stream.flush()
        if command in ("quit", "system_powerdown"):
            sys.exit(0)
    connection.close()
"""


@pytest.fixture(autouse=True)
def _fresh_kvm_verdict() -> Iterator[None]:
    qemu.reset_kvm_verdict()
    yield
    qemu.reset_kvm_verdict()


def _poll(check: Callable[[], T], timeout: float = 10.0) -> T:
    """``check()`` once it is truthy (polled), or its last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(0.05)


@pytest.fixture
def fake_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH with a fake qemu-system-x86_64, qemu-img and genisoimage in front."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {
        "qemu-system-x86_64": FAKE_QEMU,
        "qemu-img": "import pathlib, sys\npathlib.Path(sys.argv[-1]).write_text('qcow2')\n",
        "genisoimage": (
            "import pathlib, sys\nargs = sys.argv\n"
            "pathlib.Path(args[args.index('-output') + 1]).write_text('iso')\n"
        ),
    }
    for name, body in scripts.items():
        script = bin_dir / name
        script.write_text(f"#!{sys.executable}\n{body}")
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setattr(host_tools, "require", lambda: None)
    monkeypatch.setattr(accel, "kvm_device_usable", lambda: True)
    monkeypatch.delenv(qemu.ACCEL_ENV, raising=False)
    return bin_dir


def _spec(tmp_path: Path, **options: object) -> GuestSpec:
    base = tmp_path / "base.qcow2"
    base.write_text("base")
    defaults: dict[str, object] = {
        "kernel": tmp_path / "vmlinuz",
        "initrd": tmp_path / "initrd.img",
        "user_data": "#cloud-config\n",
    }
    return GuestSpec(name="unit", base_disk=base, **{**defaults, **options})  # type: ignore[arg-type]


def _command(spec: GuestSpec, tmp_path: Path, forwards: tuple[PortForward, ...]) -> list[str]:
    """The TCG command line of ``spec``, its files in ``tmp_path``."""
    return qemu_command(
        spec,
        accel="tcg",
        disk=tmp_path / "disk.qcow2",
        seed=tmp_path / "seed.iso",
        console=tmp_path / "console.log",
        qmp=tmp_path / "qmp.sock",
        forwards=forwards,
    )


def test_command_line_has_the_vm_shape_the_seed_and_restricted_forwards(tmp_path: Path) -> None:
    spec = _spec(tmp_path, cpus=2, memory_mib=2048, forwards=(PortForward(80, 8080),))
    forwards = (PortForward(22, 2222), PortForward(80, 8080))
    command = _command(spec, tmp_path, forwards)
    joined = " ".join(command)
    assert "-accel tcg" in joined
    assert "-cpu" not in command
    assert "-smp 2 -m 2048M" in joined
    netdev = command[command.index("-netdev") + 1]
    assert netdev == (
        "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=tcp:127.0.0.1:8080-:80"
    )
    assert command[command.index("-append") + 1] == "root=LABEL=nimbus-root console=ttyS0"
    assert command[command.index("-kernel") + 1] == str(tmp_path / "vmlinuz")
    assert command[command.index("-initrd") + 1] == str(tmp_path / "initrd.img")
    disk = f"file={tmp_path / 'disk.qcow2'},format=qcow2,if=none,id=disk0"
    assert any(arg.startswith(disk) for arg in command)
    assert "virtio-blk-pci,drive=disk0,bootindex=1" in command
    assert f"file={tmp_path / 'seed.iso'},format=raw,if=none,id=seed,readonly=on" in command
    assert "virtio-blk-pci,drive=seed" in command
    assert "virtio-net-pci,netdev=net0,romfile=" in command  # no network boot ROM
    assert f"unix:{tmp_path / 'qmp.sock'},server=on,wait=off" in command
    assert f"file,id=console,path={tmp_path / 'console.log'},append=on" in command
    # SeaBIOS's log (debug port 0x402) goes to firmware.log beside the console.
    assert f"file,id=firmware,path={tmp_path / 'firmware.log'},append=on" in command
    assert "isa-debugcon,iobase=0x402,chardev=firmware" in command
    kvm = qemu_command(
        spec,
        accel="kvm",
        disk=tmp_path / "d",
        seed=tmp_path / "s",
        console=tmp_path / "c",
        qmp=tmp_path / "q",
        forwards=forwards,
    )
    assert kvm[kvm.index("-cpu") + 1] == "host"


def test_meta_data_is_yaml_with_instance_id_and_hostname() -> None:
    text = qemu.meta_data("i-1: odd", "web-1")
    assert yaml.safe_load(text) == {"instance-id": "i-1: odd", "local-hostname": "web-1"}


def test_ssh_command_logs_in_with_the_key_and_no_host_key_checks(tmp_path: Path) -> None:
    command = ssh_command("127.0.0.1", 2222, tmp_path / "id", "cat /etc/hostname")
    assert command[:5] == ["ssh", "-i", str(tmp_path / "id"), "-p", "2222"]
    assert "StrictHostKeyChecking=no" in command
    assert "BatchMode=yes" in command
    assert command[-2:] == ["debian@127.0.0.1", "cat /etc/hostname"]


def test_keygen_makes_an_ed25519_key_pair(tmp_path: Path) -> None:
    public = keygen(tmp_path / "id_ed25519", comment="unit")
    assert public.startswith("ssh-ed25519 ")
    assert public.endswith(" unit")
    assert (tmp_path / "id_ed25519").stat().st_mode & 0o077 == 0


def _serve_once(payload: bytes) -> tuple[socket.socket, threading.Thread]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            if payload:
                connection.sendall(payload)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server, thread


def test_ssh_banner_needs_the_server_to_speak_first() -> None:
    server, thread = _serve_once(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
    with server:
        port = server.getsockname()[1]
        assert qemu.ssh_banner("127.0.0.1", port) == "SSH-2.0-OpenSSH_9.2p1 Debian-2"
        thread.join()
    # QEMU's user networking accepts on the host side and closes when the guest refuses.
    server, thread = _serve_once(b"")
    with server:
        assert qemu.ssh_banner("127.0.0.1", server.getsockname()[1]) == ""
        thread.join()
    assert qemu.ssh_banner("127.0.0.1", qemu.free_port(), timeout=0.5) == ""


def test_guest_falls_back_to_tcg_when_qemu_fails_under_kvm(
    fake_tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_QEMU_MODE", "kvm-broken")
    with Guest(_spec(tmp_path), tmp_path / "g1") as guest:
        boot = guest.start()
        assert boot.accel == "tcg"
        assert "failed to set MSR" in boot.kvm_error
        assert boot.ssh_port == boot.forwards[0].host_port > 0
        assert guest.is_running()
        assert (tmp_path / "g1/seed/meta-data").read_text().startswith("instance-id: ")
        assert guest.qmp("query-status")["status"] == "running"
        with pytest.raises(GuestError, match="no bogus here"):
            guest.qmp("bogus")
        assert guest.wait_for_console("Welcome to", timeout=10) >= 0
        guest.powerdown()
        assert guest.wait_for_exit(10) == 0
    # The verdict is remembered: the next guest goes straight to TCG and says why.
    with Guest(_spec(tmp_path), tmp_path / "g2") as guest:
        boot = guest.start()
        assert boot.accel == "tcg"
        assert "found earlier in this process" in boot.kvm_error
        guest.kill()
        assert not guest.is_running()


def test_guest_uses_kvm_when_the_guest_boots_under_it(
    fake_tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_QEMU_MODE", "kvm-works")
    network = "version: 2\nethernets:\n  eth0:\n    dhcp4: true\n"
    spec = _spec(tmp_path, network_config=network, instance_id="i-42", hostname="web")
    with Guest(spec, tmp_path / "g") as guest:
        boot = guest.start()
        assert (boot.accel, boot.kvm_error) == ("kvm", "")
    assert not guest.is_running()
    seed = tmp_path / "g/seed"
    assert (seed / "network-config").read_text() == network
    assert (seed / "user-data").read_text() == "#cloud-config\n"
    meta = yaml.safe_load((seed / "meta-data").read_text())
    assert meta == {"instance-id": "i-42", "local-hostname": "web"}


def test_a_silent_guest_under_kvm_falls_back_after_the_probe(
    fake_tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_QEMU_MODE", "kvm-silent")
    monkeypatch.setattr(accel, "KVM_PROBE_SECONDS", 1.0)
    with Guest(_spec(tmp_path), tmp_path / "g") as guest:
        boot = guest.start()
        assert boot.accel == "tcg"
        assert "no firmware or console output under KVM" in boot.kvm_error
        assert (tmp_path / "g/console-kvm-attempt.log").exists()


def test_requested_accelerators_are_honoured(
    fake_tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_QEMU_MODE", "kvm-broken")
    with Guest(_spec(tmp_path, accel="tcg"), tmp_path / "tcg") as guest:
        assert guest.start().kvm_error == "TCG requested"
    with (
        Guest(_spec(tmp_path, accel="kvm"), tmp_path / "kvm") as guest,
        pytest.raises(GuestError, match="did not start"),
    ):
        guest.start()
    monkeypatch.setenv(qemu.ACCEL_ENV, "tcg")
    with Guest(_spec(tmp_path), tmp_path / "env") as guest:
        assert guest.start().accel == "tcg"
    with pytest.raises(ValueError, match="accel"):
        Guest(_spec(tmp_path, accel="xen"), tmp_path / "x")


def test_a_long_working_directory_gets_a_short_qmp_socket(
    fake_tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_QEMU_MODE", "kvm-works")
    workdir = tmp_path / ("d" * 60) / ("e" * 60)
    guest = Guest(_spec(tmp_path), workdir)
    with guest:
        guest.start()
        socket_path = guest.qmp_path
        assert len(str(socket_path)) <= qemu.UNIX_PATH_MAX
        assert guest.qmp("query-status")["running"] is True
    assert not socket_path.parent.exists()


def test_qmp_skips_events_before_the_answer(tmp_path: Path) -> None:
    path = tmp_path / "qmp.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def serve() -> None:
        connection, _ = server.accept()
        with connection, connection.makefile("rwb") as stream:
            stream.write(b'{"QMP": {}}\n')
            stream.flush()
            for line in stream:
                stream.write(b'{"event": "RESET"}\n')
                answer = {"return": json.loads(line)["execute"]}
                stream.write(json.dumps(answer).encode() + b"\n")
                stream.flush()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with server:
        assert Qmp(path, timeout=5).execute("system_reset") == "system_reset"
    thread.join(timeout=5)


def test_a_firmware_boot_has_no_kernel_and_extra_disks_follow_the_boot_disk(
    tmp_path: Path,
) -> None:
    spec = GuestSpec.for_image(
        "fw",
        GuestImage(tmp_path, "key"),
        extra_disks=(ExtraDisk(tmp_path / "data.qcow2", serial="vol,1"),),
    )
    assert spec.base_disk == tmp_path / "disk.qcow2"
    assert (spec.kernel, spec.initrd, spec.disk_path) == (None, None, None)
    command = _command(spec, tmp_path, (PortForward(22, 2222),))
    assert "-kernel" not in command
    assert "-append" not in command
    assert "isa-debugcon,iobase=0x402,chardev=firmware" in command
    devices = [command[i + 1] for i, arg in enumerate(command) if arg == "-device"]
    blk = [d for d in devices if d.startswith("virtio-blk-pci")]
    assert blk == [
        "virtio-blk-pci,drive=disk0,bootindex=1",
        "virtio-blk-pci,drive=disk1,serial=vol,,1",
        "virtio-blk-pci,drive=seed",
    ]
    assert f"file={tmp_path / 'data.qcow2'},format=qcow2,if=none,id=disk1,cache=writeback" in (
        command
    )


def _firmware_spec(tmp_path: Path, **options: object) -> GuestSpec:
    return _spec(tmp_path, kernel=None, initrd=None, accel="tcg", **options)


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        (
            "no-boot",
            "the firmware found no bootable disk: Boot failed: not a bootable disk; "
            "No bootable device.",
        ),
        ("panic", "the kernel panicked: Kernel panic - not syncing: VFS: Unable to mount root fs"),
        ("crash", "QEMU exited with status 3: qemu-system-x86_64: virtio: zero sized buffers"),
    ],
)
def test_boot_failure_says_why_the_guest_cannot_boot(
    fake_tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, reason: str
) -> None:
    monkeypatch.setenv("FAKE_QEMU_MODE", mode)
    with Guest(_firmware_spec(tmp_path), tmp_path / "g") as guest:
        assert guest.boot_failure() is None  # not started
        guest.start()
        failure = _poll(guest.boot_failure)
        assert isinstance(failure, str)
        assert failure.startswith(reason)
        assert not guest.is_up()
        with pytest.raises(GuestError, match="cannot boot"):
            guest.wait_for_ssh(timeout=5)


def test_is_up_once_a_login_prompt_shows_and_a_kill_is_no_failure(
    fake_tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_QEMU_MODE", "login")
    with Guest(_firmware_spec(tmp_path), tmp_path / "g") as guest:
        assert not guest.is_up()
        guest.start()
        assert _poll(guest.is_up) is True
        assert guest.boot_failure() is None
        guest.kill()
        assert not guest.is_up()
        assert guest.boot_failure() is None  # we stopped it: not the guest's failure


def test_boot_failure_and_is_up_read_only_this_boots_output(
    fake_tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workdir = tmp_path / "g"
    workdir.mkdir()
    (workdir / "firmware.log").write_text("Boot failed: not a bootable disk\nNo bootable device.\n")
    (workdir / "console.log").write_text("Kernel panic - not syncing: old\nold-host login: ")
    monkeypatch.setenv("FAKE_QEMU_MODE", "")
    with Guest(_firmware_spec(tmp_path), workdir) as guest:
        boot = guest.start()
        assert boot.firmware_offset > 0
        assert guest.wait_for_console("Welcome to", timeout=10) >= 0
        assert guest.boot_failure() is None
        assert not guest.is_up()
    # A panic in one boot is forgotten once a reset starts the next.
    monkeypatch.setenv("FAKE_QEMU_MODE", "panic")
    with Guest(_firmware_spec(tmp_path), tmp_path / "p") as guest:
        guest.start()
        assert _poll(guest.boot_failure)
        guest.reset()
        assert guest.boot_failure() is None


def test_the_overlay_lives_at_disk_path_and_is_kept_across_starts(
    fake_tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_QEMU_MODE", "login")
    disk = tmp_path / "volumes" / "server-1" / "disk.qcow2"
    spec = _firmware_spec(tmp_path, disk_path=disk)
    with Guest(spec, tmp_path / "launcher-1") as guest:
        boot = guest.start()
        assert guest.disk == disk
        assert f"file={disk},format=qcow2,if=none,id=disk0" in " ".join(boot.command)
    assert disk.read_text() == "qcow2"  # made by (fake) qemu-img create
    assert not (tmp_path / "launcher-1" / "disk.qcow2").exists()
    disk.write_text("written by the guest")
    with Guest(spec, tmp_path / "launcher-2") as guest:
        guest.start()
    assert disk.read_text() == "written by the guest"  # kept, not made again
