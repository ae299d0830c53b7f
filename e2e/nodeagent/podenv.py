"""A container's environment and command line, computed as the kubelet computes them.

Pure functions over pod and container dicts (camelCase, as the Kubernetes API returns them):
``$(VAR)`` expansion, the docker-link variables of services, the environment from ``env`` and
``envFrom`` with ConfigMap, Secret and downward API sources, and the argv that follows from the
container's ``command``/``args`` and its image's entrypoint/cmd.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from e2e.nodeagent import downward
from e2e.nodeagent.images import ImageEntry

_OPERATOR = "$"
_REFERENCE_OPENER = "("
_REFERENCE_CLOSER = ")"

# validation.IsEnvVarName: the names the kubelet accepts from envFrom (others are skipped).
_ENV_VAR_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
# Variables of the "kubernetes" service in "default", injected even without service links.
_MASTER_SERVICE_PREFIX = "KUBERNETES_"
# How the kubelet's messages name the kinds: lower case when not found, title case for keys.
_KIND_TITLES = {"configmap": "ConfigMap", "secret": "Secret"}


class ContainerConfigError(Exception):
    """What the kubelet reports as CreateContainerConfigError: the container cannot be built."""


@dataclass(frozen=True)
class ServiceLink:
    """A service as seen by the docker-link variables: name, cluster IP and ports."""

    name: str
    host: str
    ports: tuple[tuple[str, int, str], ...]  # (port name or "", port, "TCP"/"UDP"/"SCTP")


def expand(text: str, env: Mapping[str, str]) -> str:
    """``text`` with ``$(NAME)`` replaced by ``env[NAME]`` and ``$$`` by ``$``.

    A port of Kubernetes' third_party/forked/golang/expansion: unknown references, a ``$``
    before anything else, and an unterminated ``$(`` are all kept verbatim.
    """
    pieces: list[str] = []
    checkpoint = 0
    cursor = 0
    while cursor < len(text):
        if text[cursor] == _OPERATOR and cursor + 1 < len(text):
            pieces.append(text[checkpoint:cursor])
            following = text[cursor + 1]
            advance = 1
            if following == _OPERATOR:
                pieces.append(_OPERATOR)
            elif following == _REFERENCE_OPENER:
                closer = text.find(_REFERENCE_CLOSER, cursor + 2)
                if closer == -1:
                    pieces.append(_OPERATOR + _REFERENCE_OPENER)
                else:
                    name = text[cursor + 2 : closer]
                    pieces.append(env.get(name, f"$({name})"))
                    advance = closer - cursor
            else:
                pieces.append(_OPERATOR + following)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    pieces.append(text[checkpoint:])
    return "".join(pieces)


def service_link_env(services: Sequence[ServiceLink]) -> dict[str, str]:
    """The docker-link style variables the kubelet injects for ``services`` (envvars.FromServices).

    Services without a cluster IP (headless: "" or "None") get none.
    """
    env: dict[str, str] = {}
    for service in services:
        if service.host in ("", "None"):
            continue
        prefix = _env_name(service.name)
        env[f"{prefix}_SERVICE_HOST"] = service.host
        if service.ports:
            env[f"{prefix}_SERVICE_PORT"] = str(service.ports[0][1])
        for port_name, port, _ in service.ports:
            if port_name:
                env[f"{prefix}_SERVICE_PORT_{_env_name(port_name)}"] = str(port)
        for index, (_, port, protocol) in enumerate(service.ports):
            scheme = (protocol or "TCP").lower()
            url = f"{scheme}://{_join_host_port(service.host, port)}"
            if index == 0:
                env[f"{prefix}_PORT"] = url
            port_prefix = f"{prefix}_PORT_{port}_{scheme.upper()}"
            env[port_prefix] = url
            env[f"{port_prefix}_PROTO"] = scheme
            env[f"{port_prefix}_PORT"] = str(port)
            env[f"{port_prefix}_ADDR"] = service.host
    return env


def container_env(
    pod: dict[str, Any],
    container: dict[str, Any],
    *,
    config_maps: Mapping[str, Mapping[str, str]],
    secrets: Mapping[str, Mapping[str, str]],
    service_env: Mapping[str, str],
    node_allocatable: Mapping[str, str],
) -> dict[str, str]:
    """The environment of ``container``: service links, then ``envFrom``, then ``env``.

    ``config_maps`` and ``secrets`` are the objects of the pod's namespace by name, with their
    data decoded to str. Raises ContainerConfigError for a missing, non-optional reference.
    """
    spec: dict[str, Any] = pod.get("spec") or {}
    namespace = str((pod.get("metadata") or {}).get("namespace", "default"))
    links_enabled = spec.get("enableServiceLinks") is not False
    env = {
        name: value
        for name, value in service_env.items()
        if links_enabled or name.startswith(_MASTER_SERVICE_PREFIX)
    }
    for source in container.get("envFrom") or []:
        env.update(_env_from(source, namespace, config_maps, secrets))
    sources = _EnvSources(pod, container, namespace, config_maps, secrets, node_allocatable)
    for variable in container.get("env") or []:
        value = _env_value(variable, env, sources)
        if value is not None:
            env[variable["name"]] = value
    return env


def container_command(
    image: ImageEntry, container: dict[str, Any], env: Mapping[str, str]
) -> list[str]:
    """The argv of ``container`` (argv[0] still unresolved), as the runtime combines it.

    ``command`` replaces the image's entrypoint and drops its cmd; ``args`` replaces the cmd.
    Only words from the pod spec are $(VAR)-expanded: the image's are passed on literally.
    """
    command = [expand(word, env) for word in container.get("command") or []]
    args = [expand(word, env) for word in container.get("args") or []]
    if command:
        argv = command + args
    elif args:
        argv = [*image.entrypoint, *args]
    else:
        argv = [*image.entrypoint, *image.cmd]
    if not argv:
        raise ContainerConfigError(f"no command specified for container {container.get('name')}")
    return argv


def _env_from(
    source: dict[str, Any],
    namespace: str,
    config_maps: Mapping[str, Mapping[str, str]],
    secrets: Mapping[str, Mapping[str, str]],
) -> dict[str, str]:
    if (ref := source.get("configMapRef")) is not None:
        data = _referenced(config_maps, "configmap", ref)
    elif (ref := source.get("secretRef")) is not None:
        data = _referenced(secrets, "secret", ref)
    else:
        return {}
    prefix = source.get("prefix") or ""
    named = {prefix + key: value for key, value in (data or {}).items()}
    return {name: value for name, value in named.items() if _ENV_VAR_NAME.fullmatch(name)}


@dataclass(frozen=True)
class _EnvSources:
    """Where ``valueFrom`` entries of one container's ``env`` read from."""

    pod: dict[str, Any]
    container: dict[str, Any]
    namespace: str
    config_maps: Mapping[str, Mapping[str, str]]
    secrets: Mapping[str, Mapping[str, str]]
    node_allocatable: Mapping[str, str]

    def container_named(self, name: str) -> dict[str, Any]:
        spec: dict[str, Any] = self.pod.get("spec") or {}
        containers = [*spec.get("containers", []), *spec.get("initContainers", [])]
        return downward.find_container(containers, name)


def _env_value(
    variable: dict[str, Any], env: Mapping[str, str], sources: _EnvSources
) -> str | None:
    """The value of one ``env`` entry; None when an optional source is missing."""
    if value := variable.get("value"):
        return expand(value, env)
    value_from: dict[str, Any] = variable.get("valueFrom") or {}
    if not value_from:
        return ""
    if (ref := value_from.get("configMapKeyRef")) is not None:
        return _referenced_key(sources.config_maps, "configmap", ref, sources.namespace)
    if (ref := value_from.get("secretKeyRef")) is not None:
        return _referenced_key(sources.secrets, "secret", ref, sources.namespace)
    try:
        if (ref := value_from.get("fieldRef")) is not None:
            return downward.field_value(sources.pod, ref["fieldPath"])
        if (ref := value_from.get("resourceFieldRef")) is not None:
            other = ref.get("containerName")
            target = sources.container_named(other) if other else sources.container
            return downward.resource_value(
                target, ref["resource"], ref.get("divisor"), sources.node_allocatable
            )
    except ValueError as error:
        raise ContainerConfigError(str(error)) from error
    raise ContainerConfigError(f"unsupported valueFrom for env var {variable.get('name')}")


def _referenced(
    objects: Mapping[str, Mapping[str, str]], kind: str, ref: dict[str, Any]
) -> Mapping[str, str] | None:
    """The data of a referenced object; None if it is missing but optional."""
    name = ref.get("name", "")
    if name in objects:
        return objects[name]
    if ref.get("optional"):
        return None
    raise ContainerConfigError(f'{kind} "{name}" not found')


def _referenced_key(
    objects: Mapping[str, Mapping[str, str]], kind: str, ref: dict[str, Any], namespace: str
) -> str | None:
    """The value of ``ref.key`` in the referenced object; None if missing but optional."""
    data = _referenced(objects, kind, ref)
    key = ref.get("key", "")
    if data is not None and key in data:
        return data[key]
    if data is None or ref.get("optional"):
        return None
    kind_title = _KIND_TITLES[kind]
    raise ContainerConfigError(
        f"couldn't find key {key} in {kind_title} {namespace}/{ref.get('name', '')}"
    )


def _env_name(name: str) -> str:
    return name.replace("-", "_").upper()


def _join_host_port(host: str, port: int) -> str:
    # Go's net.JoinHostPort: IPv6 addresses get brackets.
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
