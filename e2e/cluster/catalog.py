"""Pinned components of the local control plane and where their binaries are cached.

Every component is built from the Go module proxy through a small wrapper module committed under
``e2e/cluster/gomod/<component>/`` (go.mod + go.sum pin every dependency). Binaries go to a cache
outside the repository, one directory per component and version:
``$NIMBUS_BIN_CACHE/<component>-<version>/`` (default ``~/.cache/nimbus/bin``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

GOMOD_ROOT = Path(__file__).resolve().parent / "gomod"
KWOK_STAGES_DIR = Path(__file__).resolve().parent / "kwok-stages"

KUBERNETES_VERSION = "v1.35.4"
ETCD_VERSION = "v3.6.16"
KWOK_VERSION = "v0.8.0"
HELM_VERSION = "v3.22.0"


@dataclass(frozen=True)
class GoComponent:
    """One component: which Go packages to build into which binaries, and how to check them."""

    name: str
    """Cache and wrapper-module name, e.g. ``kubernetes``."""
    version: str
    """Upstream release, e.g. ``v1.35.4``; part of the cache directory name."""
    packages: tuple[str, ...]
    """Main packages to build, in the same order as ``binaries``."""
    binaries: tuple[str, ...]
    """Output file name of each package."""
    ldflags: tuple[str, ...]
    """Extra ``-ldflags`` (``-X`` version stamps); ``-s -w`` are always added."""
    version_args: tuple[str, ...]
    """Arguments that make each binary print its version."""
    version_marker: str
    """Text the version output of every binary must contain for a cached binary to be reused."""
    module: str = ""
    """Wrapper module directory when it is another component's (kubectl shares kubernetes')."""

    @property
    def gomod_dir(self) -> Path:
        return GOMOD_ROOT / (self.module or self.name)

    @property
    def cache_key(self) -> str:
        return f"{self.name}-{self.version}"


def _kubernetes() -> GoComponent:
    major, minor, _patch = KUBERNETES_VERSION.lstrip("v").split(".")
    stamp = "k8s.io/component-base/version"
    commands = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
    return GoComponent(
        name="kubernetes",
        version=KUBERNETES_VERSION,
        packages=tuple(f"k8s.io/kubernetes/cmd/{command}" for command in commands),
        binaries=commands,
        ldflags=(
            f"-X {stamp}.gitVersion={KUBERNETES_VERSION}",
            f"-X {stamp}.gitMajor={major}",
            f"-X {stamp}.gitMinor={minor}",
        ),
        version_args=("--version",),
        version_marker=f"Kubernetes {KUBERNETES_VERSION}",
    )


def _kubectl() -> GoComponent:
    kubernetes = _kubernetes()
    return GoComponent(
        name="kubectl",
        version=KUBERNETES_VERSION,
        packages=("k8s.io/kubernetes/cmd/kubectl",),
        binaries=("kubectl",),
        ldflags=tuple(
            flag.replace("k8s.io/component-base", "k8s.io/client-go/pkg")
            for flag in kubernetes.ldflags
        )
        + kubernetes.ldflags,
        version_args=("version", "--client"),
        version_marker=f"Client Version: {KUBERNETES_VERSION}",
        module="kubernetes",
    )


COMPONENTS: tuple[GoComponent, ...] = (
    _kubernetes(),
    _kubectl(),
    GoComponent(
        name="etcd",
        version=ETCD_VERSION,
        packages=("go.etcd.io/etcd/server/v3",),
        binaries=("etcd",),
        # etcd's own Version constant is already right; only the Git SHA is stamped at build time.
        ldflags=(f"-X go.etcd.io/etcd/api/v3/version.GitSHA=gomod-{ETCD_VERSION}",),
        version_args=("--version",),
        version_marker=f"etcd Version: {ETCD_VERSION.lstrip('v')}",
    ),
    GoComponent(
        name="kwok",
        version=KWOK_VERSION,
        packages=("sigs.k8s.io/kwok/cmd/kwok",),
        binaries=("kwok",),
        ldflags=(f"-X sigs.k8s.io/kwok/pkg/consts.Version={KWOK_VERSION.lstrip('v')}",),
        version_args=("--version",),
        version_marker=f"kwok version {KWOK_VERSION}",
    ),
    GoComponent(
        name="helm",
        version=HELM_VERSION,
        packages=("helm.sh/helm/v3/cmd/helm",),
        binaries=("helm",),
        ldflags=(
            f"-X helm.sh/helm/v3/internal/version.version={HELM_VERSION}",
            "-X helm.sh/helm/v3/internal/version.gitTreeState=clean",
        ),
        version_args=("version", "--short"),
        version_marker=HELM_VERSION,
    ),
)


def component(name: str) -> GoComponent:
    for candidate in COMPONENTS:
        if candidate.name == name:
            return candidate
    known = ", ".join(c.name for c in COMPONENTS)
    raise KeyError(f"unknown component {name!r} (known: {known})")


def bin_cache_root() -> Path:
    """``$NIMBUS_BIN_CACHE`` or ``~/.cache/nimbus/bin``."""
    override = os.environ.get("NIMBUS_BIN_CACHE")
    if override:
        return Path(override).expanduser()
    return Path.home() / ".cache" / "nimbus" / "bin"


def component_dir(spec: GoComponent, cache_root: Path | None = None) -> Path:
    return (cache_root or bin_cache_root()) / spec.cache_key


@dataclass(frozen=True)
class BinaryPaths:
    """Absolute paths of every binary the control plane runs."""

    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    kwok: Path
    helm: Path
    kubectl: Path

    @classmethod
    def from_cache(cls, cache_root: Path | None = None) -> BinaryPaths:
        kube = component_dir(component("kubernetes"), cache_root)
        return cls(
            etcd=component_dir(component("etcd"), cache_root) / "etcd",
            kube_apiserver=kube / "kube-apiserver",
            kube_controller_manager=kube / "kube-controller-manager",
            kube_scheduler=kube / "kube-scheduler",
            kwok=component_dir(component("kwok"), cache_root) / "kwok",
            helm=component_dir(component("helm"), cache_root) / "helm",
            kubectl=component_dir(component("kubectl"), cache_root) / "kubectl",
        )

    def missing(self) -> list[Path]:
        """Every binary the tests and ``make up`` use (the control plane, kubectl, helm)."""
        return [*self.missing_for_control_plane(), *self._missing(self.helm)]

    @staticmethod
    def _missing(*paths: Path) -> list[Path]:
        return [path for path in paths if not os.access(path, os.X_OK)]

    def missing_for_control_plane(self) -> list[Path]:
        """Binaries ``up`` needs that are not there (helm is not needed to run the cluster)."""
        paths = (
            self.etcd,
            self.kube_apiserver,
            self.kube_controller_manager,
            self.kube_scheduler,
            self.kwok,
            self.kubectl,
        )
        return [path for path in paths if not os.access(path, os.X_OK)]
