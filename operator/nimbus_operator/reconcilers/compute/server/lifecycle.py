"""Nova's server actions as transitions on a VirtualMachine that KubeVirt runs.

A reboot, a resize (a new spec.flavor) and a rebuild (a new spec.rebuild.request) all end the
running VirtualMachineInstance: KubeVirt starts a new one from the VirtualMachine's template
(runStrategy Always), which by then carries the new flavor or root disk. The task is recorded
in status (``taskState`` and the UID of the instance it replaces) so that it survives an
operator restart, and is done once another instance runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from nimbus_operator.models.compute.serverparts import PowerState, RebootType
from nimbus_operator.models.compute.virtualserver import VirtualServerSpec
from nimbus_operator.render.compute import ServerAction


class Task(StrEnum):
    """Nova's task_state of each action, as status.taskState says it."""

    REBOOTING = "rebooting"
    REBOOTING_HARD = "rebooting_hard"
    RESIZING = "resize_migrating"
    REBUILDING = "rebuilding"

    @property
    def action(self) -> ServerAction:
        return _ACTIONS[self]


_ACTIONS = {
    Task.REBOOTING: ServerAction.REBOOT,
    Task.REBOOTING_HARD: ServerAction.HARD_REBOOT,
    Task.RESIZING: ServerAction.RESIZE,
    Task.REBUILDING: ServerAction.REBUILD,
}


@dataclass(frozen=True)
class Requests:
    """The tokens and flavor a task compares: what the spec asks, what was last done."""

    reboot: str
    rebuild: str
    flavor: str
    image: str

    @classmethod
    def asked(cls, spec: VirtualServerSpec, image_ref: str) -> Requests:
        return cls(
            spec.reboot.request if spec.reboot else "",
            spec.rebuild.request if spec.rebuild else "",
            spec.flavor,
            image_ref,
        )

    @classmethod
    def done(cls, status: dict[str, Any], asked: Requests) -> Requests:
        """What status says was last acted on; a field never set takes the asked value (the
        tokens a server is created with ask for nothing)."""
        return cls(
            _or(status.get("lastRebootRequest"), asked.reboot),
            _or(status.get("lastRebuildRequest"), asked.rebuild),
            _or(status.get("flavor"), asked.flavor),
            _or(status.get("image"), asked.image),
        )


def _or(value: Any, fallback: str) -> str:
    return fallback if value is None else str(value)


def task_to_start(spec: VirtualServerSpec, asked: Requests, done: Requests) -> Task | None:
    """The action the spec asks for now, if any (none while the server is stopped: a new flavor
    or root disk is simply used at the next start, and a reboot of a stopped server is moot)."""
    if spec.power_state == PowerState.STOPPED:
        return None
    if asked.rebuild != done.rebuild:
        return Task.REBUILDING
    if asked.flavor != done.flavor:
        return Task.RESIZING
    if asked.reboot != done.reboot:
        hard = spec.reboot is not None and spec.reboot.type == RebootType.HARD
        return Task.REBOOTING_HARD if hard else Task.REBOOTING
    return None


def finished_fields(asked: Requests) -> dict[str, Any]:
    """Status once a task is done (or the server first runs): everything asked is done."""
    return {
        "lastRebootRequest": asked.reboot,
        "lastRebuildRequest": asked.rebuild,
        "flavor": asked.flavor,
        "image": asked.image,
        "taskState": None,
        "taskInstance": None,
    }
