"""A small Dockerfile reader: the instructions of each stage, and what the final image gets.

Enough of the Dockerfile grammar for the project's own file: line continuations, comments,
global ARGs substituted into FROM, exec- and shell-form CMD/ENTRYPOINT, and the key=value
forms of ENV and LABEL. Not a full parser (no heredocs, no escape directive).
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from dataclasses import dataclass, field

_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    arguments: str


@dataclass(frozen=True)
class Copy:
    sources: tuple[str, ...]
    destination: str
    from_stage: str | None


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [i.arguments for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> str | None:
        found = self.all(keyword)
        return found[-1] if found else None

    @property
    def env(self) -> dict[str, str]:
        return {k: v for arguments in self.all("ENV") for k, v in _pairs(arguments).items()}

    @property
    def labels(self) -> dict[str, str]:
        return {k: v for arguments in self.all("LABEL") for k, v in _pairs(arguments).items()}

    @property
    def copies(self) -> list[Copy]:
        return [_copy(arguments) for arguments in self.all("COPY")]

    def command(self, keyword: str) -> tuple[str, ...] | None:
        """The stage's own CMD or ENTRYPOINT (exec form as written, shell form via sh -c)."""
        arguments = self.last(keyword)
        if arguments is None:
            return None
        if arguments.startswith("["):
            return tuple(json.loads(arguments))
        return ("/bin/sh", "-c", arguments)


@dataclass(frozen=True)
class Dockerfile:
    global_args: dict[str, str]
    stages: tuple[Stage, ...]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    @property
    def stage_names(self) -> set[str]:
        return {stage.name for stage in self.stages if stage.name}


def parse_dockerfile(text: str) -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for instruction in _instructions(text):
        if instruction.keyword == "FROM":
            stages.append(_stage(instruction.arguments, global_args))
        elif stages:
            stages[-1].instructions.append(instruction)
        elif instruction.keyword == "ARG":
            name, _, default = instruction.arguments.partition("=")
            global_args[name.strip()] = default.strip()
    return Dockerfile(global_args, tuple(stages))


def _instructions(text: str) -> list[Instruction]:
    instructions: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # comments may sit inside a continued instruction too
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def _stage(arguments: str, global_args: dict[str, str]) -> Stage:
    words = [word for word in arguments.split() if not word.startswith("--")]  # --platform
    base = _VARIABLE.sub(lambda m: global_args.get(m.group(1) or m.group(2), ""), words[0])
    name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
    return Stage(base=base, name=name)


def _pairs(arguments: str) -> dict[str, str]:
    words = shlex.split(arguments)
    if words and "=" not in words[0]:  # the legacy `ENV NAME value` form
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) for word in words)


def _copy(arguments: str) -> Copy:
    words = shlex.split(arguments)
    flags = dict(word[2:].split("=", 1) for word in words if word.startswith("--"))
    paths = [word for word in words if not word.startswith("--")]
    return Copy(tuple(paths[:-1]), paths[-1], flags.get("from"))


@dataclass(frozen=True)
class ImageReference:
    repository: str
    tag: str | None
    digest: str | None


def image_reference(image: str) -> ImageReference:
    name, _, digest = image.partition("@")
    tag_separator = name.rfind(":")
    # A colon before the last slash belongs to a registry host:port, not to a tag.
    if tag_separator > name.rfind("/"):
        return ImageReference(name[:tag_separator], name[tag_separator + 1 :], digest or None)
    return ImageReference(name, None, digest or None)


def dockerignore_patterns(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def excluded_from_context(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore ``patterns`` leave ``path`` out of the build context: the last
    matching pattern wins, ``!`` re-includes, a matched directory takes its contents along."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    anywhere = ["/".join(parts[n : m + 1]) for n in range(len(parts)) for m in range(n, len(parts))]
    excluded = False
    for pattern in patterns:
        glob = pattern.removeprefix("!").strip("/")
        candidates = prefixes
        if glob.startswith("**/"):
            glob, candidates = glob[3:], anywhere
        if any(fnmatch.fnmatchcase(candidate, glob) for candidate in candidates):
            excluded = not pattern.startswith("!")
    return excluded
