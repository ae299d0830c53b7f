"""e2e.nodeagent.podenv: $(VAR) expansion, service links, container environment and argv."""

from __future__ import annotations

from typing import Any

import pytest

from e2e.nodeagent.images import ImageEntry
from e2e.nodeagent.podenv import (
    ContainerConfigError,
    ServiceLink,
    container_command,
    container_env,
    expand,
    service_link_env,
)

# The context of the upstream expansion tests (expand_test.go).
UPSTREAM_CONTEXT = {
    "VAR_A": "A",
    "VAR_B": "B",
    "VAR_C": "C",
    "VAR_REF": "$(VAR_A)",
    "VAR_EMPTY": "",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$(VAR_A)", "A"),
        ("$(VAR_A)-$(VAR_A)", "A-A"),
        ("$(VAR_A)-1", "A-1"),
        ("___$(VAR_B)___", "___B___"),
        ("___$(VAR_C)", "___C"),
        ("$(VAR_A)_$(VAR_B)_$(VAR_C)", "A_B_C"),
        ("$$(VAR_B)_$(VAR_A)", "$(VAR_B)_A"),
        ("$$(VAR_A)_$$(VAR_B)", "$(VAR_A)_$(VAR_B)"),
        ("f000-$$VAR_A", "f000-$VAR_A"),
        ("foo\\$(VAR_C)bar", "foo\\Cbar"),
        ("foo\\\\$(VAR_C)bar", "foo\\\\Cbar"),
        ("foo\\\\\\\\$(VAR_A)bar", "foo\\\\\\\\Abar"),
        ("$(VAR_A$(VAR_B))", "$(VAR_A$(VAR_B))"),
        ("$(VAR_A$(VAR_B)", "$(VAR_A$(VAR_B)"),
        ("$(VAR_REF)", "$(VAR_A)"),
        ("%%$(VAR_REF)--$(VAR_REF)%%", "%%$(VAR_A)--$(VAR_A)%%"),
        ("foo$(VAR_EMPTY)bar", "foobar"),
        ("foo$(VAR_Awhoops!", "foo$(VAR_Awhoops!"),
        ("f00__(VAR_A)__", "f00__(VAR_A)__"),
        ("$?_boo_$!", "$?_boo_$!"),
        ("$VAR_A", "$VAR_A"),
        ("$(VAR_DNE)", "$(VAR_DNE)"),
        ("$$$$$$(BIG_MONEY)", "$$$(BIG_MONEY)"),
        ("$$$$$$(VAR_A)", "$$$(VAR_A)"),
        ("$$$$$$$(GOOD_ODDS)", "$$$$(GOOD_ODDS)"),
        ("$$$$$$$(VAR_A)", "$$$A"),
        ("$VAR_A)", "$VAR_A)"),
        ("${VAR_A}", "${VAR_A}"),
        ("$(VAR_B)_______$(A", "B_______$(A"),
        ("$(VAR_C)_______$(", "C_______$("),
        ("$(VAR_A)foobarzab$", "Afoobarzab$"),
        ("foo-\\$(VAR_A", "foo-\\$(VAR_A"),
        ("--$($($($($--", "--$($($($($--"),
        ("$($($($($--foo$(", "$($($($($--foo$("),
        ("foo0--$($($($(", "foo0--$($($($("),
        ("$(foo$$var)", "$(foo$$var)"),
        ("\n", "\n"),
        # Edge cases beyond the upstream table.
        ("", ""),
        ("$", "$"),
        ("$(", "$("),
        ("$()", "$()"),
        ("$$", "$"),
        ("$$(VAR_A)", "$(VAR_A)"),
        ("$$$(VAR_A)", "$A"),
        ("$(VAR_A)$(VAR_A)", "AA"),
        ("$(UNKNOWN)", "$(UNKNOWN)"),
        ("$($(VAR_A))", "$($(VAR_A))"),
        ("$(VAR_A)é$(VAR_B)", "AéB"),
    ],
)
def test_expand_matches_the_kubernetes_expansion_package(text: str, expected: str) -> None:
    assert expand(text, UPSTREAM_CONTEXT) == expected


def test_expand_uses_a_variable_set_to_the_empty_string_rather_than_keeping_the_reference() -> None:
    assert expand("<$(EMPTY)>", {"EMPTY": ""}) == "<>"
    assert expand("<$()>", {"": "blank"}) == "<blank>"


def test_service_link_env_for_the_kubernetes_service() -> None:
    kubernetes = ServiceLink("kubernetes", "10.0.0.1", (("https", 443, "TCP"),))

    assert service_link_env([kubernetes]) == {
        "KUBERNETES_SERVICE_HOST": "10.0.0.1",
        "KUBERNETES_SERVICE_PORT": "443",
        "KUBERNETES_SERVICE_PORT_HTTPS": "443",
        "KUBERNETES_PORT": "tcp://10.0.0.1:443",
        "KUBERNETES_PORT_443_TCP": "tcp://10.0.0.1:443",
        "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
        "KUBERNETES_PORT_443_TCP_PORT": "443",
        "KUBERNETES_PORT_443_TCP_ADDR": "10.0.0.1",
    }


def test_service_link_env_with_several_ports_dashes_and_protocols() -> None:
    service = ServiceLink(
        "storage-node",
        "10.0.0.7",
        (("", 6200, "TCP"), ("metrics-http", 9100, "TCP"), ("gossip", 7946, "UDP")),
    )

    assert service_link_env([service]) == {
        "STORAGE_NODE_SERVICE_HOST": "10.0.0.7",
        "STORAGE_NODE_SERVICE_PORT": "6200",
        "STORAGE_NODE_SERVICE_PORT_METRICS_HTTP": "9100",
        "STORAGE_NODE_SERVICE_PORT_GOSSIP": "7946",
        "STORAGE_NODE_PORT": "tcp://10.0.0.7:6200",
        "STORAGE_NODE_PORT_6200_TCP": "tcp://10.0.0.7:6200",
        "STORAGE_NODE_PORT_6200_TCP_PROTO": "tcp",
        "STORAGE_NODE_PORT_6200_TCP_PORT": "6200",
        "STORAGE_NODE_PORT_6200_TCP_ADDR": "10.0.0.7",
        "STORAGE_NODE_PORT_9100_TCP": "tcp://10.0.0.7:9100",
        "STORAGE_NODE_PORT_9100_TCP_PROTO": "tcp",
        "STORAGE_NODE_PORT_9100_TCP_PORT": "9100",
        "STORAGE_NODE_PORT_9100_TCP_ADDR": "10.0.0.7",
        "STORAGE_NODE_PORT_7946_UDP": "udp://10.0.0.7:7946",
        "STORAGE_NODE_PORT_7946_UDP_PROTO": "udp",
        "STORAGE_NODE_PORT_7946_UDP_PORT": "7946",
        "STORAGE_NODE_PORT_7946_UDP_ADDR": "10.0.0.7",
    }


def test_service_link_env_brackets_ipv6_hosts_and_skips_headless_services() -> None:
    services = [
        ServiceLink("v6", "fd00::10", (("", 80, "SCTP"),)),
        ServiceLink("headless", "None", (("", 80, "TCP"),)),
        ServiceLink("no-ip", "", (("", 80, "TCP"),)),
    ]

    env = service_link_env(services)

    assert env["V6_PORT"] == "sctp://[fd00::10]:80"
    assert env["V6_PORT_80_SCTP_ADDR"] == "fd00::10"
    assert not [name for name in env if name.startswith(("HEADLESS_", "NO_IP_"))]


SERVICE_ENV = {
    "KUBERNETES_SERVICE_HOST": "10.0.0.1",
    "KUBERNETES_SERVICE_PORT": "443",
    "GATEWAY_SERVICE_HOST": "10.0.0.9",
    "GATEWAY_SERVICE_PORT": "8080",
}
ALLOCATABLE = {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "100Gi"}


def make_pod(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web-0", "namespace": "shop", "uid": "u-1", "labels": {"app": "w"}},
        "spec": {"nodeName": "kwok-node-1", "containers": list(containers), **spec},
        "status": {"podIP": "10.244.1.5", "hostIP": "192.168.0.2"},
    }


def env_of(
    container: dict[str, Any],
    pod: dict[str, Any] | None = None,
    config_maps: dict[str, dict[str, str]] | None = None,
    secrets: dict[str, dict[str, str]] | None = None,
) -> dict[str, str]:
    return container_env(
        pod if pod is not None else make_pod(container),
        container,
        config_maps=config_maps or {},
        secrets=secrets or {},
        service_env=SERVICE_ENV,
        node_allocatable=ALLOCATABLE,
    )


def test_container_env_starts_from_the_service_links() -> None:
    assert env_of({"name": "app"}) == SERVICE_ENV


def test_disabled_service_links_keep_only_the_kubernetes_service_variables() -> None:
    container = {"name": "app", "env": [{"name": "X", "value": "[$(GATEWAY_SERVICE_HOST)]"}]}
    pod = make_pod(container, enableServiceLinks=False)

    assert env_of(container, pod) == {
        "KUBERNETES_SERVICE_HOST": "10.0.0.1",
        "KUBERNETES_SERVICE_PORT": "443",
        "X": "[$(GATEWAY_SERVICE_HOST)]",
    }


def test_env_from_applies_prefixes_in_order_and_skips_invalid_names() -> None:
    container = {
        "name": "app",
        "envFrom": [
            {"configMapRef": {"name": "settings"}},
            {"secretRef": {"name": "creds"}, "prefix": "DB_"},
            {"configMapRef": {"name": "overrides"}},
        ],
    }
    config_maps = {
        "settings": {"MODE": "dev", "LEVEL": "info", "1BAD": "x", "has space": "x", "a.b-c": "ok"},
        "overrides": {"LEVEL": "debug", "GATEWAY_SERVICE_PORT": "9999"},
    }
    secrets = {"creds": {"PASSWORD": "s3cret", "USER": "admin"}}

    env = env_of(container, config_maps=config_maps, secrets=secrets)

    assert env == {
        **SERVICE_ENV,
        "GATEWAY_SERVICE_PORT": "9999",
        "MODE": "dev",
        "LEVEL": "debug",
        "a.b-c": "ok",
        "DB_PASSWORD": "s3cret",
        "DB_USER": "admin",
    }


def test_a_prefix_can_make_an_invalid_key_valid() -> None:
    container = {"name": "app", "envFrom": [{"configMapRef": {"name": "m"}, "prefix": "P_"}]}

    assert env_of(container, config_maps={"m": {"1ST": "one"}})["P_1ST"] == "one"


def test_env_values_expand_against_earlier_variables_only() -> None:
    container = {
        "name": "app",
        "envFrom": [{"configMapRef": {"name": "settings"}}],
        "env": [
            {"name": "URL", "value": "http://$(GATEWAY_SERVICE_HOST):$(PORT)/$(MODE)"},
            {"name": "PORT", "value": "8080"},
            {"name": "LATER", "value": "$(PORT)-$(URL)"},
            {"name": "ESCAPED", "value": "$$(PORT)"},
            {"name": "EMPTY", "value": ""},
        ],
    }

    env = env_of(container, config_maps={"settings": {"MODE": "dev"}})

    assert env["URL"] == "http://10.0.0.9:$(PORT)/dev"
    assert env["LATER"] == "8080-http://10.0.0.9:$(PORT)/dev"
    assert env["ESCAPED"] == "$(PORT)"
    assert env["EMPTY"] == ""


def test_env_overrides_env_from_and_service_variables() -> None:
    container = {
        "name": "app",
        "envFrom": [{"configMapRef": {"name": "settings"}}],
        "env": [
            {"name": "MODE", "value": "prod-was-$(MODE)"},
            {"name": "GATEWAY_SERVICE_HOST", "value": "gw.local"},
        ],
    }

    env = env_of(container, config_maps={"settings": {"MODE": "dev"}})

    assert env["MODE"] == "prod-was-dev"
    assert env["GATEWAY_SERVICE_HOST"] == "gw.local"


def test_value_from_config_maps_and_secrets_is_not_expanded() -> None:
    container = {
        "name": "app",
        "env": [
            {"name": "PORT", "value": "1"},
            {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "m", "key": "a"}}},
            {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "b"}}},
        ],
    }

    env = env_of(container, config_maps={"m": {"a": "$(PORT)"}}, secrets={"s": {"b": "pw"}})

    assert (env["A"], env["B"]) == ("$(PORT)", "pw")


@pytest.mark.parametrize(
    ("value_from", "message"),
    [
        ({"configMapKeyRef": {"name": "absent", "key": "k"}}, 'configmap "absent" not found'),
        (
            {"configMapKeyRef": {"name": "m", "key": "nope"}},
            "couldn't find key nope in ConfigMap shop/m",
        ),
        ({"secretKeyRef": {"name": "absent", "key": "k"}}, 'secret "absent" not found'),
        ({"secretKeyRef": {"name": "s", "key": "nope"}}, "couldn't find key nope in Secret shop/s"),
        ({"fieldRef": {"fieldPath": "spec.bogus"}}, "unsupported fieldPath: 'spec.bogus'"),
        (
            {"resourceFieldRef": {"containerName": "ghost", "resource": "limits.cpu"}},
            "container ghost not found",
        ),
        ({"fileKeyRef": {"volumeName": "v", "path": "p", "key": "k"}}, "unsupported valueFrom"),
    ],
)
def test_missing_required_sources_are_container_config_errors(
    value_from: dict[str, Any], message: str
) -> None:
    container = {"name": "app", "env": [{"name": "V", "valueFrom": value_from}]}

    with pytest.raises(ContainerConfigError) as raised:
        env_of(container, config_maps={"m": {"k": "v"}}, secrets={"s": {"k": "v"}})

    assert message in str(raised.value)


@pytest.mark.parametrize(
    "env_from",
    [{"configMapRef": {"name": "absent"}}, {"secretRef": {"name": "absent"}}],
)
def test_a_missing_required_env_from_source_is_a_container_config_error(
    env_from: dict[str, Any],
) -> None:
    kind = "configmap" if "configMapRef" in env_from else "secret"

    with pytest.raises(ContainerConfigError, match=f'^{kind} "absent" not found$'):
        env_of({"name": "app", "envFrom": [env_from]})


def test_optional_missing_sources_leave_variables_as_they_were() -> None:
    container = {
        "name": "app",
        "envFrom": [
            {"configMapRef": {"name": "absent", "optional": True}},
            {"secretRef": {"name": "absent", "optional": True}},
            {"configMapRef": {"name": "m"}},
        ],
        "env": [
            {
                "name": "A",
                "valueFrom": {"configMapKeyRef": {"name": "gone", "key": "a", "optional": True}},
            },
            {
                "name": "B",
                "valueFrom": {"configMapKeyRef": {"name": "m", "key": "b", "optional": True}},
            },
            {
                "name": "C",
                "valueFrom": {"secretKeyRef": {"name": "gone", "key": "c", "optional": True}},
            },
            {
                "name": "KEPT",
                "valueFrom": {"secretKeyRef": {"name": "s", "key": "x", "optional": True}},
            },
        ],
    }

    env = env_of(container, config_maps={"m": {"KEPT": "from-envFrom"}}, secrets={"s": {}})

    assert env == {**SERVICE_ENV, "KEPT": "from-envFrom"}


def test_downward_api_env_vars() -> None:
    app = {
        "name": "app",
        "resources": {"limits": {"cpu": "250m"}, "requests": {"memory": "64Mi"}},
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
            {
                "name": "CPU_M",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}},
            },
            {
                "name": "MEM_MI",
                "valueFrom": {
                    "resourceFieldRef": {"resource": "requests.memory", "divisor": "1Mi"}
                },
            },
            {"name": "MEM_LIMIT", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory"}}},
            {
                "name": "SIDECAR_CPU",
                "valueFrom": {
                    "resourceFieldRef": {
                        "containerName": "sidecar",
                        "resource": "limits.cpu",
                        "divisor": "1m",
                    }
                },
            },
            {"name": "REF", "value": "$(POD_NAME)@$(NODE)"},
        ],
    }
    sidecar = {"name": "sidecar", "resources": {"limits": {"cpu": "1500m"}}}
    pod = make_pod(app, sidecar)

    env = env_of(app, pod)

    assert {name: env[name] for name in env if name not in SERVICE_ENV} == {
        "POD_NAME": "web-0",
        "POD_IP": "10.244.1.5",
        "NODE": "kwok-node-1",
        "APP": "w",
        "CPU": "1",
        "CPU_M": "250",
        "MEM_MI": "64",
        "MEM_LIMIT": str(8 * 1024**3),
        "SIDECAR_CPU": "1500",
        "REF": "web-0@kwok-node-1",
    }


def test_resource_field_ref_can_name_an_init_container() -> None:
    app = {
        "name": "app",
        "env": [
            {
                "name": "INIT_MEM",
                "valueFrom": {
                    "resourceFieldRef": {
                        "containerName": "setup",
                        "resource": "limits.memory",
                        "divisor": "1Mi",
                    }
                },
            }
        ],
    }
    pod = make_pod(
        app, initContainers=[{"name": "setup", "resources": {"limits": {"memory": "32Mi"}}}]
    )

    assert env_of(app, pod)["INIT_MEM"] == "32"


IMAGE = ImageEntry(
    repository="example/image",
    entrypoint=("/entry", "--flag"),
    cmd=("serve", "$(HOME)"),
    path=("/bin",),
    working_dir="/",
    description="test image",
)
ENV = {"HOME": "/root", "PORT": "8080"}


@pytest.mark.parametrize(
    ("container", "argv"),
    [
        ({}, ["/entry", "--flag", "serve", "$(HOME)"]),
        ({"args": ["run", "--port=$(PORT)"]}, ["/entry", "--flag", "run", "--port=8080"]),
        ({"command": ["sh", "-c"]}, ["sh", "-c"]),
        (
            {"command": ["sh", "-c"], "args": ["echo $(PORT) $$(PORT) $(NOPE)"]},
            ["sh", "-c", "echo 8080 $(PORT) $(NOPE)"],
        ),
        ({"command": ["$(HOME)/bin/app"], "args": []}, ["/root/bin/app"]),
        ({"command": [], "args": []}, ["/entry", "--flag", "serve", "$(HOME)"]),
    ],
)
def test_container_command_combines_the_spec_with_the_image(
    container: dict[str, Any], argv: list[str]
) -> None:
    assert container_command(IMAGE, {"name": "app", **container}, ENV) == argv


def test_an_empty_command_line_is_a_container_config_error() -> None:
    bare = ImageEntry("example/bare", (), (), ("/bin",), "/", "no entrypoint, no cmd")

    with pytest.raises(ContainerConfigError, match="no command specified"):
        container_command(bare, {"name": "app"}, ENV)
    assert container_command(bare, {"name": "app", "args": ["only"]}, ENV) == ["only"]
