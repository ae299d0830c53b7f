"""Build the pinned components from the Go module proxy into the binary cache.

Only what is missing is built: a cached binary that prints the expected version is reused.
Components are built one after another (the Go compiler already uses every core). Each build
writes into a ``.partial`` directory that is renamed into place only when complete, so an
interrupted build never leaves a binary that looks valid. Build durations are recorded in
``<cache>/build-times.json``.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from e2e.cluster.catalog import COMPONENTS, GoComponent, bin_cache_root, component_dir

log = logging.getLogger(__name__)

BUILD_TIMES_FILE = "build-times.json"
PROGRESS_INTERVAL_SECONDS = 20.0
VERSION_CHECK_TIMEOUT_SECONDS = 30.0


class BuildError(RuntimeError):
    """A component could not be built."""


@dataclass(frozen=True)
class BuildResult:
    component: str
    version: str
    directory: Path
    built: bool
    """False when the cached binaries were reused."""
    seconds: float


def binary_reports_version(binary: Path, spec: GoComponent) -> bool:
    """True when ``binary`` exists, runs, and prints ``spec.version_marker``."""
    if not os.access(binary, os.X_OK):
        return False
    try:
        completed = subprocess.run(
            [str(binary), *spec.version_args],
            capture_output=True,
            text=True,
            timeout=VERSION_CHECK_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return spec.version_marker in completed.stdout + completed.stderr


def is_built(spec: GoComponent, cache_root: Path | None = None) -> bool:
    directory = component_dir(spec, cache_root)
    return all(binary_reports_version(directory / name, spec) for name in spec.binaries)


def go_build_command(spec: GoComponent, output_dir: Path) -> list[str]:
    """The ``go build`` command line for ``spec``, writing into ``output_dir``."""
    ldflags = " ".join(("-s", "-w", *spec.ldflags))
    if len(spec.packages) == 1:
        output = str(output_dir / spec.binaries[0])
    else:
        output = f"{output_dir}{os.sep}"
    return ["go", "build", "-v", "-trimpath", "-ldflags", ldflags, "-o", output, *spec.packages]


def build_all(
    names: Iterable[str] | None = None,
    *,
    cache_root: Path | None = None,
    force: bool = False,
) -> list[BuildResult]:
    """Build every requested component that is missing (all of them when ``names`` is None)."""
    root = cache_root or bin_cache_root()
    wanted = set(names) if names is not None else None
    specs = [spec for spec in COMPONENTS if wanted is None or spec.name in wanted]
    if wanted is not None and len(specs) != len(wanted):
        unknown = wanted - {spec.name for spec in specs}
        raise BuildError(f"unknown component(s): {', '.join(sorted(unknown))}")
    root.mkdir(parents=True, exist_ok=True)
    results: list[BuildResult] = []
    with _build_lock(root):
        for spec in specs:
            results.append(_build_one(spec, root, force=force))
    return results


def _build_one(spec: GoComponent, root: Path, *, force: bool) -> BuildResult:
    directory = component_dir(spec, root)
    started = time.monotonic()
    if not force and is_built(spec, root):
        log.info("%s %s: cached in %s", spec.name, spec.version, directory)
        return BuildResult(spec.name, spec.version, directory, False, time.monotonic() - started)
    if shutil.which("go") is None:
        raise BuildError("the Go toolchain (`go`) is not on PATH; it is needed to build binaries")
    partial = directory.with_name(directory.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    command = go_build_command(spec, partial)
    log.info(
        "%s %s: building %s from %s (this can take many minutes on a cold Go cache)",
        spec.name,
        spec.version,
        ", ".join(spec.binaries),
        spec.gomod_dir,
    )
    compiled = _run_go_with_progress(spec, command)
    for name in spec.binaries:
        if not binary_reports_version(partial / name, spec):
            raise BuildError(
                f"{spec.name}: built {partial / name} but it does not report "
                f"{spec.version_marker!r} for `{' '.join(spec.version_args)}`"
            )
    shutil.rmtree(directory, ignore_errors=True)
    partial.rename(directory)
    seconds = time.monotonic() - started
    record_build_time(root, spec, seconds, packages_compiled=compiled)
    log.info(
        "%s %s: built in %s -> %s", spec.name, spec.version, format_seconds(seconds), directory
    )
    return BuildResult(spec.name, spec.version, directory, True, seconds)


def _run_go_with_progress(spec: GoComponent, command: list[str]) -> int:
    """Run ``go build -v``, logging progress every few seconds (the output's tail on failure).

    Returns how many packages were compiled (not taken from Go's build cache): a cold build of
    Kubernetes compiles a few thousand, a warm one almost none.
    """
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=spec.gomod_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "GOFLAGS": "-mod=readonly -buildvcs=false"},
    )
    assert process.stdout is not None
    compiled = 0
    last_lines: list[str] = []
    last_package = ""
    stop = threading.Event()

    def report() -> None:
        while not stop.wait(PROGRESS_INTERVAL_SECONDS):
            log.info(
                "%s: %s elapsed, %d packages compiled (latest: %s)",
                spec.name,
                format_seconds(time.monotonic() - started),
                compiled,
                last_package or "-",
            )

    reporter = threading.Thread(target=report, name=f"build-progress-{spec.name}", daemon=True)
    reporter.start()
    try:
        for raw_line in process.stdout:
            line = raw_line.rstrip()
            last_lines = [*last_lines[-39:], line]
            if line and " " not in line:
                compiled += 1
                last_package = line
            else:
                log.info("%s: go: %s", spec.name, line)
        returncode = process.wait()
    finally:
        stop.set()
        reporter.join()
    if returncode != 0:
        tail = "\n".join(last_lines)
        raise BuildError(f"{spec.name}: `{' '.join(command)}` failed ({returncode}):\n{tail}")
    return compiled


def record_build_time(
    root: Path,
    spec: GoComponent,
    seconds: float,
    *,
    packages_compiled: int | None = None,
    note: str = "",
) -> None:
    """Remember how long building ``spec`` took, for the README's cold-build figures."""
    path = root / BUILD_TIMES_FILE
    records = read_build_times(root)
    entry: dict[str, object] = {
        "version": spec.version,
        "seconds": round(seconds, 1),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "go_version": _go_version(),
    }
    if packages_compiled is not None:
        entry["packages_compiled"] = packages_compiled
    if note:
        entry["note"] = note
    records[spec.name] = entry
    path.write_text(json.dumps(records, indent=2, sort_keys=True) + "\n")


def read_build_times(root: Path | None = None) -> dict[str, dict[str, object]]:
    path = (root or bin_cache_root()) / BUILD_TIMES_FILE
    try:
        loaded = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def format_seconds(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{seconds:.1f}s"


def _go_version() -> str:
    try:
        completed = subprocess.run(
            ["go", "env", "GOVERSION"], capture_output=True, text=True, check=False, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return completed.stdout.strip() or "unknown"


@contextmanager
def _build_lock(root: Path) -> Iterator[None]:
    """One build at a time per cache (a CLI build and a test session may race)."""
    with (root / ".build.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another build holds %s; waiting for it", root / ".build.lock")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
