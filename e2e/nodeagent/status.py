"""Pod status as a kubelet writes it, from what the agent knows of each container (pure).

``ContainerView`` is one container's state at one moment; ``pod_status`` turns the views of a
pod into its ``status``: phase, conditions (PodReadyToStartContainers, Initialized,
ContainersReady, Ready), IPs, and the init and regular container statuses with state,
lastState, ready, started and restartCount.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

PENDING, RUNNING, SUCCEEDED, FAILED = "Pending", "Running", "Succeeded", "Failed"


def timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Terminated:
    exit_code: int
    signal: int
    reason: str
    message: str
    started_at: float
    finished_at: float
    container_id: str

    def as_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "exitCode": self.exit_code,
            "reason": self.reason,
            "startedAt": timestamp(self.started_at),
            "finishedAt": timestamp(self.finished_at),
            "containerID": self.container_id,
        }
        if self.signal:
            state["signal"] = self.signal
        if self.message:
            state["message"] = self.message
        return {"terminated": state}


@dataclass(frozen=True)
class ContainerView:
    name: str
    image: str
    restart_count: int
    ready: bool
    started: bool
    running_since: float | None = None
    container_id: str = ""
    waiting_reason: str = ""
    waiting_message: str = ""
    terminated: Terminated | None = None
    last_terminated: Terminated | None = None
    will_restart: bool = False
    """A terminated container that its restart policy will start again."""

    def as_status(self) -> dict[str, Any]:
        if self.running_since is not None:
            state: dict[str, Any] = {"running": {"startedAt": timestamp(self.running_since)}}
        elif self.terminated is not None and not self.waiting_reason:
            state = self.terminated.as_state()
        else:
            waiting: dict[str, str] = {"reason": self.waiting_reason or "ContainerCreating"}
            if self.waiting_message:
                waiting["message"] = self.waiting_message
            state = {"waiting": waiting}
        status: dict[str, Any] = {
            "name": self.name,
            "image": self.image,
            "imageID": "",
            "ready": self.ready,
            "started": self.started,
            "restartCount": self.restart_count,
            "state": state,
            "lastState": self.last_terminated.as_state() if self.last_terminated else {},
        }
        if self.container_id:
            status["containerID"] = self.container_id
        return status


def _phase(init: list[ContainerView], main: list[ContainerView], failed: bool) -> str:
    if failed:
        return FAILED
    if any(view.terminated is None or view.terminated.exit_code != 0 for view in init):
        return PENDING
    if any(view.running_since is not None for view in main):
        return RUNNING
    if main and all(v.terminated is not None and not v.will_restart for v in main):
        if all(v.terminated is not None and v.terminated.exit_code == 0 for v in main):
            return SUCCEEDED
        return FAILED
    if any(v.restart_count or v.terminated or v.last_terminated for v in main):
        return RUNNING
    return PENDING


def _condition(
    kind: str, value: bool, previous: dict[str, dict[str, Any]], now: float
) -> dict[str, Any]:
    status = "True" if value else "False"
    old = previous.get(kind)
    since = old.get("lastTransitionTime") if old and old.get("status") == status else None
    return {"type": kind, "status": status, "lastTransitionTime": since or timestamp(now)}


def pod_status(
    *,
    previous: dict[str, Any],
    init: list[ContainerView],
    main: list[ContainerView],
    sandbox_ready: bool,
    pod_ip: str | None,
    host_ip: str,
    start_time: float,
    now: float,
    failed: bool = False,
    readiness_gates: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The ``status`` of a pod; ``previous`` keeps unchanged conditions' transition times."""
    known = {c["type"]: c for c in previous.get("conditions") or []}
    phase = _phase(init, main, failed)
    initialized = all(v.terminated is not None and v.terminated.exit_code == 0 for v in init)
    containers_ready = bool(main) and all(view.ready for view in main)
    gates_ok = all(known.get(gate, {}).get("status") == "True" for gate in readiness_gates)
    conditions = [
        _condition("PodReadyToStartContainers", sandbox_ready, known, now),
        _condition("Initialized", initialized, known, now),
        _condition("ContainersReady", containers_ready, known, now),
        _condition("Ready", containers_ready and gates_ok, known, now),
    ]
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "startTime": timestamp(start_time),
        "initContainerStatuses": [view.as_status() for view in init],
        "containerStatuses": [view.as_status() for view in main],
    }
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    return status
