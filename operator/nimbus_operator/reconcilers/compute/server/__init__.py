"""The VirtualServer reconciler: references resolved, quota held, a KubeVirt VirtualMachine
applied, Nova's lifecycle (stop, start, reboot, resize, rebuild) driven, status reported."""

from nimbus_operator.reconcilers.compute.server.reconcile import delete_server, reconcile_server

__all__ = ["delete_server", "reconcile_server"]
