"""What the probe tests look at on the cluster's disks: replica placement under the current
ring, database replicas, how many replicas a node holds. Client load (writers, readers, the
tally of what was acknowledged, reading it back) is tests/support/load.py; waiting with
deadlines derived from the cluster's configuration is tests/support/waiting.py.
"""

from __future__ import annotations

import os
from pathlib import Path

from nimbus_storage.ring import Ring

from tests.support.storage_cluster import StorageCluster


def data_files(objects: Path) -> list[Path]:
    """The .data files under a device's ``objects`` directory (partition/suffix/hash/*.data).

    Unlike ``Path.glob`` this tolerates directories the replicator removes while it walks."""
    found = []
    for directory, _, names in os.walk(objects):
        relative = Path(directory).relative_to(objects)
        if len(relative.parts) == 3:
            found += [Path(directory) / n for n in names if n.endswith(".data")]
    return found


def placement_problems(cluster: StorageCluster) -> tuple[int, list[str]]:
    """Every .data file on disk, and those on a device that is not a primary of its partition."""
    ring = Ring.load(cluster.ring_path)
    found, misplaced = 0, []
    for member in cluster.members:
        objects = member.data / "d0" / "objects"
        for data_file in data_files(objects):
            found += 1
            partition = int(data_file.relative_to(objects).parts[0])
            if member.address not in {d.node for d in ring.primaries(partition)}:
                misplaced.append(f"{member.address}: {data_file.relative_to(objects)}")
    return found, misplaced


def database_problems(cluster: StorageCluster) -> tuple[dict[str, int], list[str]]:
    """Replicas per database (catalog, bucket indexes) on disk, and those not on a primary
    of their partition (handoffs, or left behind by a rebalance)."""
    ring = Ring.load(cluster.ring_path)
    counts: dict[str, int] = {}
    misplaced = []
    for member in cluster.members:
        for path in (member.data / "d0" / "dbs").glob("*/*.sqlite"):
            name = path.name.removesuffix(".sqlite")
            counts[name] = counts.get(name, 0) + 1
            partition = ring.partition(name)
            primaries = {d.node for d in ring.primaries(partition)}
            if int(path.parent.name) != partition or member.address not in primaries:
                misplaced.append(f"{member.address}: {path.parent.name}/{path.name}")
    return counts, misplaced


def replicas_on(cluster: StorageCluster, index: int) -> int:
    """The .data files on node ``index``'s device."""
    return len(data_files(cluster.members[index].data / "d0" / "objects"))
