"""The operator's reviewed powers: what helm/nimbus/templates/rbac.yaml must grant, no more.

docs/operator.md ("RBAC") says why each rule is needed and which end-to-end test fails
without it. tests/unit/helm/test_rbac.py checks the chart grants exactly these;
tests/e2e/test_operator_operations.py checks the service account can do exactly these (plus
what every authenticated identity may) in a running cluster.
"""

from __future__ import annotations

Rule = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]  # apiGroups, resources, verbs

READ = ("get", "list", "watch")
OWN = (*READ, "create", "patch", "update", "delete")
NIMBUS = "storage.nimbus.dev"
COMPUTE = "compute.nimbus.dev"

REVIEWED_RULES: list[Rule] = [
    # Its own resources: their finalizers and progress annotations.
    (
        (NIMBUS,),
        ("objectstores", "storagepolicies", "buckets", "bucketaccesses"),
        (*READ, "patch", "update"),
    ),
    (
        (NIMBUS,),
        (
            "objectstores/status",
            "storagepolicies/status",
            "buckets/status",
            "bucketaccesses/status",
        ),
        ("get", "patch", "update"),
    ),
    # The compute kinds, the same way.
    (
        (COMPUTE,),
        ("flavors", "images", "keypairs", "servergroups", "virtualservers", "computequotas"),
        (*READ, "patch", "update"),
    ),
    (
        (COMPUTE,),
        (
            "flavors/status",
            "images/status",
            "keypairs/status",
            "servergroups/status",
            "virtualservers/status",
            "computequotas/status",
        ),
        ("get", "patch", "update"),
    ),
    # What servers become (KubeVirt), Images' imports (CDI), and restarts of instances.
    (("kubevirt.io",), ("virtualmachines",), OWN),
    (("kubevirt.io",), ("virtualmachineinstances",), (*READ, "delete")),
    (("cdi.kubevirt.io",), ("datavolumes",), OWN),
    # What stores and buckets become.
    (("",), ("services", "configmaps", "secrets"), OWN),
    (("apps",), ("statefulsets", "deployments"), OWN),
    (("policy",), ("poddisruptionbudgets",), OWN),
    # Ring placement: the zone of each storage-node pod's node.
    (("",), ("pods", "nodes"), READ),
    (("", "events.k8s.io"), ("events",), ("create", "patch")),
    # kopf: CRD discovery, and watching every namespace.
    (("apiextensions.k8s.io",), ("customresourcedefinitions",), READ),
    (("",), ("namespaces",), READ),
]

LEASE_RULES: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    # Leader election, in the release's namespace: (resource, resourceNames, verbs).
    ("leases.coordination.k8s.io", ("nimbus-operator",), ("get", "update")),
    ("leases.coordination.k8s.io", (), ("create",)),
]
