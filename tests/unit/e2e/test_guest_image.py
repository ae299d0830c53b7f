"""Pure parts of the image build (e2e.guest.image and the modules it is made of) and of
e2e.guest.host_tools: apt sources, the cache key, the mmdebstrap command, progress counting,
the rootfs configuration, mounts (no build, no root)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from e2e.guest import host_tools, image
from e2e.guest import rootfs as rootfs_module
from e2e.guest.image import (
    PACKAGES,
    AptSource,
    ImageSpec,
    host_apt_sources,
    mounts_below,
    parse_deb822_sources,
    parse_one_line_sources,
    release_sources,
)

DEBIAN_SOURCES = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
"""
THIRD_PARTY_SOURCES = """\
Types: deb
URIs: https://deb.nodesource.com/node_20.x
Suites: nodistro
Components: main
Signed-By: /usr/share/keyrings/nodesource.gpg

Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Enabled: no
"""


def test_deb822_stanzas_become_one_entry_per_uri_and_suite() -> None:
    sources = parse_deb822_sources(DEBIAN_SOURCES)
    keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
    assert sources == [
        AptSource("http://deb.debian.org/debian", "bookworm", ("main",), keyring),
        AptSource("http://deb.debian.org/debian", "bookworm-updates", ("main",), keyring),
        AptSource("http://deb.debian.org/debian-security", "bookworm-security", ("main",), keyring),
    ]
    assert sources[0].line() == (
        f"deb [signed-by={keyring}] http://deb.debian.org/debian bookworm main"
    )


def test_disabled_stanzas_and_inline_keys_are_dropped() -> None:
    assert [s.suite for s in parse_deb822_sources(THIRD_PARTY_SOURCES)] == ["nodistro"]
    inline = "Types: deb\nURIs: http://m/debian\nSuites: sid\nSigned-By:\n -----BEGIN PGP\n x\n"
    assert parse_deb822_sources(inline) == [AptSource("http://m/debian", "sid", (), "")]


def test_one_line_entries_keep_their_keyring_and_skip_sources_and_comments() -> None:
    text = (
        "# a comment\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://m/debian bookworm main contrib\n"
        "deb-src http://m/debian bookworm main\n"
        "deb https://packages.example/apt cloud-sdk-bookworm main  # third party\n"
    )
    assert parse_one_line_sources(text) == [
        AptSource("http://m/debian", "bookworm", ("main", "contrib"), "/k.gpg"),
        AptSource("https://packages.example/apt", "cloud-sdk-bookworm", ("main",), ""),
    ]


def test_only_the_release_and_its_own_suites_are_kept() -> None:
    sources = [
        AptSource("http://m/debian", suite, ("main",))
        for suite in ("bookworm", "bookworm-updates", "cloud-sdk-bookworm", "nodistro", "trixie")
    ]
    kept = release_sources([*sources, sources[0]], "bookworm")
    assert [s.suite for s in kept] == ["bookworm", "bookworm-updates"]


def test_host_apt_sources_reads_both_formats(tmp_path: Path) -> None:
    listed = tmp_path / "sources.list.d"
    listed.mkdir()
    (listed / "debian.sources").write_text(DEBIAN_SOURCES)
    (listed / "other.sources").write_text(THIRD_PARTY_SOURCES)
    (listed / "extra.list").write_text("deb http://m/debian bookworm-backports main\n")
    suites = [s.suite for s in host_apt_sources("bookworm", tmp_path)]
    assert suites == ["bookworm-backports", "bookworm", "bookworm-updates", "bookworm-security"]


def test_cache_key_covers_release_package_set_and_recipe_but_not_order() -> None:
    spec = ImageSpec(release="bookworm")
    assert spec.key == ImageSpec(release="bookworm", packages=tuple(reversed(PACKAGES))).key
    assert spec.key.startswith("debian-bookworm-")
    others = {
        ImageSpec(release="trixie").key,
        ImageSpec(release="bookworm", packages=(*PACKAGES, "vim")).key,
        ImageSpec(release="bookworm", recipe=spec.recipe + 1).key,
    }
    assert spec.key not in others
    assert len(others) == 3


def test_release_comes_from_os_release_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    os_release = tmp_path / "os-release"
    os_release.write_text('NAME="Debian GNU/Linux"\nVERSION_CODENAME=bookworm\n')
    monkeypatch.delenv(image.RELEASE_ENV, raising=False)
    assert image.host_release(os_release) == "bookworm"
    monkeypatch.setenv(image.RELEASE_ENV, "trixie")
    assert image.host_release(os_release) == "trixie"
    monkeypatch.delenv(image.RELEASE_ENV)
    os_release.write_text("NAME=Other\n")
    with pytest.raises(image.ImageError, match=image.RELEASE_ENV):
        image.host_release(os_release)


def test_mmdebstrap_command_asks_for_the_variant_and_every_package(tmp_path: Path) -> None:
    command = image.mmdebstrap_command(ImageSpec(release="bookworm"), tmp_path, ["/s.list"])
    assert command[:3] == ["mmdebstrap", "--verbose", "--mode=root"]
    assert "--variant=minbase" in command
    assert f"--include={','.join(PACKAGES)}" in command
    assert command[-3:] == ["bookworm", str(tmp_path), "/s.list"]
    assert {"cloud-init", "openssh-server", "linux-image-cloud-amd64", "dbus"} <= set(PACKAGES)


def test_progress_counts_phases_downloads_and_packages() -> None:
    counts = rootfs_module.Counts()
    for line in (
        "I: downloading packages with apt...",
        "Get:1 http://deb.debian.org/debian bookworm/main amd64 udev amd64 252 [1 kB]",
        "0 upgraded, 42 newly installed, 0 to remove and 0 not upgraded.",
        "Unpacking udev (252.39-1~deb12u2) ...",
        "Setting up udev (252.39-1~deb12u2) ...",
        "I: /vmlinuz is now a symlink to boot/vmlinuz-6.1.0-57-cloud-amd64",
    ):
        rootfs_module.count_progress(line, counts)
    assert (counts.fetched, counts.unpacked, counts.set_up, counts.planned) == (1, 1, 1, 42)
    assert counts.phase == "downloading packages with apt"
    assert counts.latest == "udev"


def test_configure_rootfs_makes_a_cloud_guest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rootfs = tmp_path / "rootfs"
    for directory in ("etc/ssh", "etc/default", "etc/systemd/system", "var/lib/dbus"):
        (rootfs / directory).mkdir(parents=True)
    (rootfs / "etc/ssh/ssh_host_ed25519_key").write_text("secret")
    (rootfs / "etc/ssh/ssh_host_ed25519_key.pub").write_text("public")
    (rootfs / "etc/ssh/sshd_config").write_text("# kept\n")
    (rootfs / "etc/machine-id").write_text("0123\n")
    (rootfs / "var/lib/dbus/machine-id").write_text("0123\n")
    ran: list[list[str]] = []

    def run(command: list[str]) -> str:
        ran.append(command)
        return ""

    monkeypatch.setattr(rootfs_module, "run", run)

    image.configure_rootfs(rootfs)

    assert ran == [["chroot", str(rootfs), "locale-gen"]]
    etc = rootfs / "etc"
    assert "en_US.UTF-8 UTF-8" in (etc / "locale.gen").read_text()
    assert (etc / "default/locale").read_text() == "LANG=en_US.UTF-8\n"
    assert (etc / "fstab").read_text().startswith(f"LABEL={image.ROOT_LABEL} / ext4 ")
    # The root is found by the same label by the kernel's command line (SYSLINUX's and a
    # direct kernel boot's alike).
    assert f"root=LABEL={image.ROOT_LABEL}" in image.BOOT_APPEND.split()
    assert sorted(p.name for p in (etc / "ssh").iterdir()) == ["sshd_config"]
    assert (etc / "machine-id").read_text() == ""
    assert not (rootfs / "var/lib/dbus/machine-id").exists()
    datasources = (etc / "cloud/cloud.cfg.d/90-nimbus-datasources.cfg").read_text()
    assert "datasource_list: [NoCloud, ConfigDrive, None]" in datasources
    assert "source /etc/network/interfaces.d/*" in (etc / "network/interfaces").read_text()
    for unit in image.MASKED_UNITS:
        assert (etc / "systemd/system" / unit).readlink() == Path("/dev/null")


def test_mounts_below_lists_nested_mounts_deepest_first(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    base = tmp_path / "build"
    mounts.write_text(
        f"proc {base}/rootfs/proc proc rw 0 0\n"
        f"udev {base}/rootfs/dev/pts devpts rw 0 0\n"
        f"udev {base}/rootfs/dev devtmpfs rw 0 0\n"
        f"other {tmp_path}/build-other ext4 rw 0 0\n"
        "/dev/vda / ext4 rw 0 0\n"
    )
    assert mounts_below(base, mounts) == [
        base / "rootfs/dev/pts",
        base / "rootfs/proc",
        base / "rootfs/dev",
    ]


def test_remove_tree_removes_a_plain_directory(tmp_path: Path) -> None:
    tree = tmp_path / "x.partial"
    (tree / "rootfs/etc").mkdir(parents=True)
    (tree / "rootfs/etc/hosts").write_text("")
    image.remove_tree(tree)
    assert not tree.exists()
    image.remove_tree(tree)  # absent: nothing to do


def test_image_is_complete_only_with_every_file(tmp_path: Path) -> None:
    guest = image.GuestImage(tmp_path, "k")
    assert not guest.is_complete()
    for name in ("disk.qcow2", "vmlinuz", "initrd.img", "manifest.txt", "build.json"):
        (tmp_path / name).write_text("x")
    assert guest.is_complete()
    (tmp_path / "vmlinuz").write_text("")
    assert not guest.is_complete()


def test_host_tools_say_which_packages_to_install() -> None:
    present = {"mmdebstrap", "mkfs.ext4", "qemu-img", "xorriso", "ssh"}
    present |= {"sfdisk", "mkfs.vfat", "mcopy", "syslinux"}

    def which(name: str) -> str | None:
        return f"/usr/bin/{name}" if name in present else None

    def exists(path: str) -> bool:
        return path == host_tools.MBR_FILES[-1]

    assert host_tools.missing_packages(which, exists) == ["qemu-system-x86", "openssh-client"]
    # mbr.bin is a data file: syslinux-common is missing only when no copy of it is there.
    missing = host_tools.missing_packages(which, lambda path: False)
    assert missing == ["qemu-system-x86", "openssh-client", "syslinux-common"]
    without_fat = host_tools.missing_packages(lambda n: None if n == "mkfs.vfat" else "/x", exists)
    assert without_fat == ["dosfstools"]
    commands = host_tools.install_commands(["qemu-system-x86"])
    assert commands == [
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "qemu-system-x86"],
    ]
    message = str(host_tools.HostToolsMissing(["qemu-system-x86", "genisoimage"]))
    assert "apt-get install -y --no-install-recommends qemu-system-x86 genisoimage" in message
    assert host_tools.install_commands([]) == []


def test_host_tools_check_exits_nonzero_and_prints_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(os.path, "isfile", lambda path: False)
    assert host_tools.main([]) == 1
    err = capsys.readouterr().err
    assert "apt-get install -y --no-install-recommends mmdebstrap e2fsprogs" in err
    assert "fdisk dosfstools mtools syslinux syslinux-common" in err
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(os.path, "isfile", lambda path: True)
    assert host_tools.main(["--install"]) == 0  # nothing missing: no apt-get


def test_the_cli_module_runs_without_the_virtualenv() -> None:
    """The Makefile runs ``python3 -m e2e.guest.host_tools`` before the virtualenv exists:
    it may import only the standard library."""
    code = (
        "import sys, e2e.guest.host_tools\n"
        "extra = {m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names)\n"
        "print(sorted(extra - {'e2e', '__main__'}))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-S", "-c", code],
        cwd=Path(__file__).resolve().parents[3],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert completed.stdout.strip() == "[]"
