"""The Dockerfile builds the image the e2e node agent stands in for (e2e/nodeagent/images.py).

No container engine exists here, so the image cannot be built in tests: these read the
Dockerfile and check what the image would be against the node agent's table, pyproject.toml
and the Helm chart. (test_image_commands.py: the programs pods start; test_hadolint.py.)
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml

from e2e.nodeagent.images import IMAGES, PROJECT_REPOSITORY, ImageEntry
from tests.unit.dockerfile import (
    Stage,
    dockerignore_patterns,
    excluded_from_context,
    image_reference,
    parse_dockerfile,
)

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = parse_dockerfile((REPO / "Dockerfile").read_text())
FINAL = DOCKERFILE.final
PYPROJECT: dict[str, Any] = tomllib.loads((REPO / "pyproject.toml").read_text())
CHART: dict[str, Any] = yaml.safe_load((REPO / "helm/nimbus/Chart.yaml").read_text())
VENV = "/opt/nimbus"


def project_image() -> ImageEntry:
    return next(entry for entry in IMAGES if entry.repository == PROJECT_REPOSITORY)


def external_bases() -> list[str]:
    return [stage.base for stage in DOCKERFILE.stages if stage.base not in DOCKERFILE.stage_names]


def builder() -> Stage:
    [venv_copy] = [copy for copy in FINAL.copies if copy.destination == VENV]
    assert venv_copy.from_stage in DOCKERFILE.stage_names, "the venv comes from a build stage"
    return next(stage for stage in DOCKERFILE.stages if stage.name == venv_copy.from_stage)


def test_the_image_is_built_in_stages_and_ships_only_the_venv() -> None:
    assert len(DOCKERFILE.stages) >= 2
    assert [copy.sources for copy in FINAL.copies] == [(VENV,)], "the final stage copies the venv"
    assert any(f"python -m venv --without-pip {VENV}" in run for run in builder().all("RUN"))
    assert FINAL.all("RUN"), "the user is made in the final stage"
    assert not any("pip " in run for run in FINAL.all("RUN")), "nothing is built in the final stage"


def test_base_images_are_pinned() -> None:
    for base in external_bases():
        reference = image_reference(base)
        assert reference.tag, f"{base}: no tag"
        assert reference.tag != "latest", f"{base}: floating tag"
        assert re.fullmatch(r"\d+\.\d+\.\d+-slim-\w+", reference.tag), f"{base}: not a patch tag"
        if reference.digest is not None:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", reference.digest), base


def test_both_stages_run_the_same_interpreter() -> None:
    # The venv's python is a symlink to the base image's interpreter.
    assert len(set(external_bases())) == 1
    assert builder().base == FINAL.base


def test_entrypoint_cmd_and_workdir_are_those_of_the_node_agents_image() -> None:
    image = project_image()

    assert FINAL.command("ENTRYPOINT") is None  # and python's official image sets none
    assert image.entrypoint == ()
    assert FINAL.command("CMD") == image.cmd
    assert FINAL.last("WORKDIR") == image.working_dir


def test_the_venv_is_first_on_path_as_the_node_agents_virtualenv_is() -> None:
    image_path = FINAL.env["PATH"].split(":")

    assert image_path == [f"{VENV}/bin", "$PATH"]  # then the base image's system directories
    assert project_image().path[0] == str(Path(sys.executable).parent)
    assert {"/usr/local/bin", "/usr/bin", "/bin"} <= set(project_image().path[1:])
    assert FINAL.env["VIRTUAL_ENV"] == VENV


def test_the_final_stage_runs_as_a_numeric_non_root_user() -> None:
    user = FINAL.last("USER")

    assert user is not None
    # Numeric and not 0, so the kubelet can enforce runAsNonRoot without the image's passwd.
    assert re.fullmatch(r"[1-9][0-9]*(:[1-9][0-9]*)?", user), user
    uid = user.partition(":")[0]
    assert any(f"--uid {uid}" in run for run in FINAL.all("RUN")), "the user exists in the image"


def test_oci_labels_name_the_release() -> None:
    labels = FINAL.labels
    project = PYPROJECT["project"]

    assert labels["org.opencontainers.image.title"] == project["name"]
    assert labels["org.opencontainers.image.version"] == project["version"] == CHART["appVersion"]
    assert labels["org.opencontainers.image.licenses"] == project["license"]
    assert labels["org.opencontainers.image.source"] == CHART["home"]
    base = image_reference(FINAL.base)
    assert labels["org.opencontainers.image.base.name"].endswith(f"{base.repository}:{base.tag}")


def test_the_builder_copies_everything_the_wheel_is_built_from() -> None:
    copied = {source.rstrip("/") for copy in builder().copies for source in copy.sources}
    package_roots = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["where"]

    assert copied == {"pyproject.toml", PYPROJECT["project"]["readme"], *package_roots}


def test_the_build_context_holds_what_is_copied_and_nothing_else() -> None:
    patterns = dockerignore_patterns((REPO / ".dockerignore").read_text())
    copied = [source for copy in builder().copies for source in copy.sources]

    for source in copied:
        assert not excluded_from_context(source.rstrip("/"), patterns), (
            f"{source} is not in the build context"
        )
    assert not excluded_from_context("operator/nimbus_operator/main.py", patterns)
    for left_out in (".venv", ".git", "tests", "e2e", "nimbus.egg-info", "operator/x/__pycache__"):
        assert excluded_from_context(left_out, patterns), f"{left_out} would be sent to the builder"
