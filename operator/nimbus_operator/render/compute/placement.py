"""Where the server may run: the flavor's node labels, the zone, the server group (pure).

Server groups are Nova's, rendered as pod (anti-)affinity on the group's label, which KubeVirt
copies from the VM's template to the virt-launcher pod; the topology is the node
(``kubernetes.io/hostname``), as Nova's groups are per compute host:

- ``affinity``: a required podAffinity term: every member on the node of the others (the first
  member may go anywhere: the scheduler lets a pod that matches its own term start a group).
- ``anti-affinity`` with ``maxPerHost`` unset or 1: a required podAntiAffinity term: no two
  members on one node.
- ``anti-affinity`` with ``maxPerHost`` N > 1: pod anti-affinity cannot count, so members
  get a slot 0..N-1 (the reconciler's choice, label ``server-group-slot: <group>.<k>``) and a
  required podAntiAffinity term on their own slot's label: no two members of one slot share a
  node, so no node holds more than N members — Nova's max_server_per_host, exactly.
- ``soft-affinity`` / ``soft-anti-affinity``: the same terms as preferences, weight 100.
"""

from __future__ import annotations

from typing import Any

from nimbus_operator.models.compute.servergroup import ServerGroupPolicy
from nimbus_operator.render.compute.design import ServerDesign, ServerGroupDesign
from nimbus_operator.render.compute.names import SERVER_GROUP_LABEL, SERVER_GROUP_SLOT_LABEL

ZONE_LABEL = "topology.kubernetes.io/zone"
HOSTNAME_LABEL = "kubernetes.io/hostname"
PREFERRED_WEIGHT = 100


def node_selector(design: ServerDesign) -> dict[str, str]:
    """The flavor's node labels (extraSpecs.nodeSelector)."""
    return dict(design.flavor.spec.extra_specs.node_selector or {})


def _zone_affinity(zone: str) -> dict[str, Any]:
    term = {"matchExpressions": [{"key": ZONE_LABEL, "operator": "In", "values": [zone]}]}
    return {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}


def _group_term(group: ServerGroupDesign) -> dict[str, Any]:
    return {
        "labelSelector": {"matchLabels": {SERVER_GROUP_LABEL: group.name}},
        "topologyKey": HOSTNAME_LABEL,
    }


def _group_affinity(group: ServerGroupDesign) -> tuple[str, dict[str, Any]] | None:
    """The pod affinity section (podAffinity or podAntiAffinity) of a group's policy."""
    term = _group_term(group)
    preferred = [{"weight": PREFERRED_WEIGHT, "podAffinityTerm": term}]
    match group.policy:
        case ServerGroupPolicy.AFFINITY:
            return "podAffinity", {"requiredDuringSchedulingIgnoredDuringExecution": [term]}
        case ServerGroupPolicy.ANTI_AFFINITY:
            if group.slot_label is not None:
                term = {
                    "labelSelector": {"matchLabels": {SERVER_GROUP_SLOT_LABEL: group.slot_label}},
                    "topologyKey": HOSTNAME_LABEL,
                }
            return "podAntiAffinity", {"requiredDuringSchedulingIgnoredDuringExecution": [term]}
        case ServerGroupPolicy.SOFT_AFFINITY:
            return "podAffinity", {"preferredDuringSchedulingIgnoredDuringExecution": preferred}
        case ServerGroupPolicy.SOFT_ANTI_AFFINITY:
            return "podAntiAffinity", {"preferredDuringSchedulingIgnoredDuringExecution": preferred}
    return None


def affinity(design: ServerDesign) -> dict[str, Any] | None:
    """The VMI's affinity: the zone as a node affinity, the group's pod (anti-)affinity."""
    result: dict[str, Any] = {}
    zone = design.server.spec.availability_zone
    if zone:
        result["nodeAffinity"] = _zone_affinity(zone)
    if design.server_group is not None:
        section = _group_affinity(design.server_group)
        if section is not None:
            result[section[0]] = section[1]
    return result or None
