"""One container of a pod through its life: start, probes, exit, restart with back-off.

``ContainerRuntime.step`` is called on every sync of the pod. It starts the container when it
should run (its image from the image table, its environment and command from the pod spec),
notices when it ends, and restarts it per the pod's restartPolicy with the kubelet's back-off
(10 s doubling to 5 min, reset after 10 min of running; the waiting reason meanwhile is
CrashLoopBackOff). An image the table does not know is ErrImagePull, then ImagePullBackOff.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e2e.nodeagent import images, podenv
from e2e.nodeagent.containers import Attempt, Exit, LaunchSpec
from e2e.nodeagent.probes import ProbeWorker, run_probe
from e2e.nodeagent.status import ContainerView, Terminated

BACKOFF_INITIAL_SECONDS = 10.0
BACKOFF_MAX_SECONDS = 300.0
BACKOFF_RESET_SECONDS = 600.0
START_ERROR_EXIT_CODE = 128


@dataclass(frozen=True)
class StartInputs:
    """What a start needs besides the container spec, computed by the pod."""

    env: dict[str, str]
    mounts: list[dict[str, Any]]
    hostname: str
    pod_ip: str


@dataclass
class ContainerRuntime:
    spec: dict[str, Any]
    init: bool
    directory: Path
    log_dir: Path
    container_id_prefix: str
    restart_count: int = 0
    attempt: Attempt | None = None
    terminated: Terminated | None = None
    last_terminated: Terminated | None = None
    completed: bool = False
    waiting_reason: str = ""
    waiting_message: str = ""
    backoff_seconds: float = 0.0
    backoff_until: float = 0.0
    env: dict[str, str] = field(default_factory=dict)
    pod_ip: str = ""
    probes: dict[str, ProbeWorker] = field(default_factory=dict)
    events: list[tuple[str, str, str]] = field(default_factory=list)
    """(type, reason, message) Events to post, drained by the pod."""
    _restart_scheduled_for: str = ""

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    @property
    def running(self) -> bool:
        return self.attempt is not None

    def attempt_for(self, number: int) -> Attempt:
        return Attempt(self.directory / str(number), self.log_dir / f"{number}.log")

    # -- persistence across agent restarts ---------------------------------------------------

    def record(self) -> dict[str, Any]:
        return {
            "restartCount": self.restart_count,
            "running": self.attempt is not None,
            "completed": self.completed,
            "backoff": self.backoff_seconds,
            "backoffUntil": self.backoff_until,
            "terminated": dataclasses.asdict(self.terminated) if self.terminated else None,
            "lastTerminated": (
                dataclasses.asdict(self.last_terminated) if self.last_terminated else None
            ),
        }

    def restore(self, saved: dict[str, Any]) -> None:
        """Take up where a previous agent left off (its record, its running attempt)."""
        self.restart_count = int(saved.get("restartCount", 0))
        self.completed = bool(saved.get("completed"))
        self.backoff_seconds = float(saved.get("backoff", 0.0))
        self.backoff_until = float(saved.get("backoffUntil", 0.0))
        if saved.get("terminated"):
            self.terminated = Terminated(**saved["terminated"])
            self._restart_scheduled_for = self.terminated.container_id
        if saved.get("lastTerminated"):
            self.last_terminated = Terminated(**saved["lastTerminated"])
        if saved.get("running"):
            attempt = self.attempt_for(self.restart_count)
            if attempt.adopt():
                self.attempt = attempt
                self.env = attempt.launched_env()

    # -- the state machine -------------------------------------------------------------------

    def poll(self, now: float) -> None:
        """Notice an ended attempt, or a startup or liveness failure that must end it."""
        if self.attempt is None:
            return
        self._run_probes()
        for kind, worker in self.probes.items():
            while worker.failures:
                message = worker.failures.pop(0)
                self.events.append(
                    ("Warning", "Unhealthy", f"{kind.capitalize()} probe failed: {message}")
                )
        for kind in ("startup", "liveness"):
            gate = self.probes.get(kind)
            if gate is not None and gate.result is False:
                message = f"Container {self.name} failed {kind} probe, will be restarted"
                self.events.append(("Normal", "Killing", message))
                gate.result = None
                self.attempt.kill()
        ended = self.attempt.exit_status()
        if ended is None:
            return
        self._ended(self.attempt, ended, now)

    def _ended(self, attempt: Attempt, ended: Exit, now: float) -> None:
        reason = "Completed" if ended.code == 0 else "Error"
        if ended.message and ended.code == START_ERROR_EXIT_CODE:
            reason = "StartError"
        self.terminated = Terminated(
            ended.code,
            ended.signal,
            reason,
            ended.message,
            attempt.started_at,
            ended.finished_at,
            self._container_id(self.restart_count),
        )
        self.attempt = None
        self._stop_probes()
        if now - attempt.started_at > BACKOFF_RESET_SECONDS:
            self.backoff_seconds = 0.0
        if self.init and ended.code == 0:
            self.completed = True

    def should_restart(self, policy: str) -> bool:
        if self.terminated is None:
            return False
        if self.init:
            return self.terminated.exit_code != 0 and policy != "Never"
        if policy == "Always":
            return True
        return policy == "OnFailure" and self.terminated.exit_code != 0

    async def start(self, now: float, inputs: Callable[[], Awaitable[StartInputs]]) -> None:
        """Start an attempt now, or wait out the back-off (CrashLoopBackOff/ImagePullBackOff)."""
        if now < self.backoff_until:
            return
        entry = images.lookup(str(self.spec.get("image", "")))
        if entry is None:
            self._pull_failed(now)
            return
        try:
            prepared = await inputs()
            argv = podenv.container_command(entry, self.spec, prepared.env)
        except podenv.ContainerConfigError as error:
            self.waiting_reason, self.waiting_message = "CreateContainerConfigError", str(error)
            return
        env = dict(prepared.env)
        env.setdefault("PATH", images.image_path_env(entry))
        working_dir = str(self.spec.get("workingDir") or entry.working_dir)
        program = images.which(argv[0], env["PATH"].split(":"), working_dir=working_dir)
        if self.terminated is not None:
            self.last_terminated = self.terminated
            self.restart_count += 1
            self.terminated = None
        if program is None:
            message = f'exec: "{argv[0]}": executable file not found in $PATH'
            self._start_failed(now, message)
            return
        attempt = self.attempt_for(self.restart_count)
        while attempt.was_started():  # never reuse a directory an earlier start wrote
            self.restart_count += 1
            attempt = self.attempt_for(self.restart_count)
        attempt.discard_layer()
        content = [{"source": p, "target": p, "read_only": True} for p in entry.content]
        mounts = [*prepared.mounts, *content]
        attempt.start(LaunchSpec(prepared.hostname, [program, *argv[1:]], env, working_dir, mounts))
        self.attempt, self.env = attempt, env
        self.waiting_reason = self.waiting_message = ""
        self.events.append(("Normal", "Started", f"Started container {self.name}"))

    def schedule_restart(self, now: float) -> None:
        """Called once per exit of a container that will run again: set the back-off."""
        if self.terminated is None or self._restart_scheduled_for == self.terminated.container_id:
            return
        self._restart_scheduled_for = self.terminated.container_id
        self.backoff_seconds = (
            BACKOFF_INITIAL_SECONDS
            if not self.backoff_seconds
            else min(self.backoff_seconds * 2, BACKOFF_MAX_SECONDS)
        )
        self.backoff_until = self.terminated.finished_at + self.backoff_seconds
        if now < self.backoff_until:
            self.waiting_reason = "CrashLoopBackOff"
            self.waiting_message = (
                f"back-off {self.backoff_seconds:g}s restarting failed container={self.name}"
            )
            self.events.append(
                ("Warning", "BackOff", "Back-off restarting failed container " + self.name)
            )

    def _pull_failed(self, now: float) -> None:
        image = self.spec.get("image", "")
        first = self.waiting_reason not in ("ErrImagePull", "ImagePullBackOff")
        if self.waiting_reason == "ErrImagePull":
            self.waiting_reason = "ImagePullBackOff"
            self.waiting_message = f'Back-off pulling image "{image}"'
        else:
            self.waiting_reason = "ErrImagePull"
            self.waiting_message = (
                f'Failed to pull image "{image}": not in the node agent\'s image table '
                "(e2e/nodeagent/images.py): no container engine runs here"
            )
            self.events.append(("Warning", "Failed", self.waiting_message))
        self.backoff_seconds = (
            BACKOFF_INITIAL_SECONDS if first else min(self.backoff_seconds * 2, BACKOFF_MAX_SECONDS)
        )
        self.backoff_until = now + self.backoff_seconds

    def _start_failed(self, now: float, message: str) -> None:
        self.waiting_reason = self.waiting_message = ""
        self.terminated = Terminated(
            START_ERROR_EXIT_CODE,
            0,
            "StartError",
            message,
            now,
            now,
            self._container_id(self.restart_count),
        )
        self.events.append(("Warning", "Failed", f"Error: {message}"))

    # -- probes ------------------------------------------------------------------------------

    def _start_probe(self, kind: str) -> None:
        probe = self.spec.get(f"{kind}Probe")
        if not probe or kind in self.probes or self.attempt is None:
            return
        attempt, pod_ip = self.attempt, self.pod_ip

        def check() -> Awaitable[tuple[bool, str]]:
            return run_probe(probe, self.spec, pod_ip, attempt.container_pid(), self.env)

        worker = ProbeWorker(kind, probe, check, None if kind != "liveness" else True)
        worker.start()
        self.probes[kind] = worker

    def _run_probes(self) -> None:
        """A startup probe first; readiness and liveness only once it has succeeded."""
        self._start_probe("startup")
        startup = self.probes.get("startup")
        if startup is None or startup.result is True:
            self._start_probe("readiness")
            self._start_probe("liveness")

    def _stop_probes(self) -> None:
        for worker in self.probes.values():
            worker.stop()
        self.probes.clear()

    def stop_probes(self) -> None:
        self._stop_probes()

    @property
    def started(self) -> bool:
        if self.attempt is None:
            return False
        return self._probe_passed("startup")

    @property
    def ready(self) -> bool:
        return self.attempt is not None and self.started and self._probe_passed("readiness")

    def _probe_passed(self, kind: str) -> bool:
        """No such probe in the spec, or its worker has succeeded (not merely not yet run)."""
        if not self.spec.get(f"{kind}Probe"):
            return True
        worker = self.probes.get(kind)
        return worker is not None and worker.result is True

    def _container_id(self, number: int) -> str:
        return f"{self.container_id_prefix}/{self.name}/{number}"

    def view(self, will_restart: bool) -> ContainerView:
        waiting = self.attempt is None and (self.terminated is None or bool(self.waiting_reason))
        last = self.terminated if waiting and self.terminated is not None else self.last_terminated
        has_id = self.attempt is not None or self.terminated is not None
        return ContainerView(
            name=self.name,
            image=str(self.spec.get("image", "")),
            restart_count=self.restart_count,
            ready=self.ready,
            started=self.started,
            running_since=self.attempt.started_at if self.attempt is not None else None,
            container_id=self._container_id(self.restart_count) if has_id else "",
            waiting_reason=self.waiting_reason if waiting else "",
            waiting_message=self.waiting_message if waiting else "",
            terminated=None if waiting else self.terminated,
            last_terminated=last,
            will_restart=will_restart,
        )


def dump(runtimes: list[ContainerRuntime], path: Path) -> None:
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps({rt.name: rt.record() for rt in runtimes}))
    partial.rename(path)


def load(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data: dict[str, dict[str, Any]] = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return data


def now() -> float:
    return time.time()
