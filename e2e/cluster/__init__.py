"""The local Kubernetes control plane for end-to-end tests (see ``python -m e2e.cluster -h``).

Python API::

    from e2e.cluster import Cluster, ensure_built
    ensure_built()
    cluster = Cluster()          # a fresh temporary run directory
    cluster.start()              # etcd, apiserver, controller-manager, scheduler, kwok; 3 nodes;
                                 # KubeVirt/CDI CRDs and the virt-controller stand-in
    ...  # use cluster.kubeconfig
    cluster.stop()
"""

from e2e.cluster.build import BuildError, build_all
from e2e.cluster.catalog import BinaryPaths
from e2e.cluster.cluster import Cluster, ClusterError
from e2e.cluster.kubeconfig import export_line
from e2e.cluster.layout import default_run_dir


def ensure_built() -> BinaryPaths:
    """Build whatever the control plane, kubectl, helm and the KubeVirt/CDI CRDs still lack
    (a no-op when cached)."""
    binaries = BinaryPaths.from_cache()
    if binaries.missing():
        build_all()
    return binaries


__all__ = [
    "BinaryPaths",
    "BuildError",
    "Cluster",
    "ClusterError",
    "build_all",
    "default_run_dir",
    "ensure_built",
    "export_line",
]
