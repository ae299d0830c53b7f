"""The names compute specs hold: DNS labels, namespaces, port names, device and label names."""

from __future__ import annotations

import re
from typing import Any

from nimbus_operator.models.schema import AnyRule, Rule, String

COMPUTE_CATEGORIES = ("nimbus", "nimbus-compute")
"""The categories of every compute kind: ``kubectl get nimbus-compute`` lists them all."""

DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_LABEL_HINT = (
    "must be a DNS label: lowercase letters, digits and '-', starting and ending with a "
    "letter or digit"
)

PORT_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
PORT_NAME_RULES: tuple[AnyRule, ...] = (
    Rule(
        "self.matches('[a-z]')",
        "must contain at least one letter (an IANA service name such as ssh or http)",
        lambda name: re.search("[a-z]", name) is not None,
    ),
    Rule(
        "!self.contains('--')",
        "must not contain two adjacent hyphens (an IANA service name such as ssh or http)",
        lambda name: "--" not in name,
    ),
)

RESOURCE_NAME_PATTERN = (
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
    r"/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
"""An extended resource a device plugin advertises: ``nvidia.com/TU104GL_Tesla_T4``."""

LABEL_KEY_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
"""A label key: an optional DNS-subdomain prefix and ``/``, then a name of at most 63."""
LABEL_KEY_MAX = 253 + 1 + 63
LABEL_VALUE_PATTERN = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"


def cel_string(text: str) -> str:
    """``text`` as a single-quoted CEL string literal (backslashes and quotes escaped)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def dns_label(*, description: str | None = None, rules: tuple[AnyRule, ...] = ()) -> String:
    """The schema of a DNS label (RFC 1123): at most 63 lowercase letters, digits and '-'."""
    return String(
        min_length=1,
        max_length=63,
        pattern=DNS_LABEL_PATTERN,
        pattern_message=DNS_LABEL_HINT,
        description=description,
        rules=rules,
    )


def namespace_name() -> String:
    """The schema of a namespace's name (a DNS label)."""
    return String(
        min_length=1,
        max_length=63,
        pattern=DNS_LABEL_PATTERN,
        pattern_message="must be a namespace name: lowercase letters, digits and '-', "
        "starting and ending with a letter or digit",
    )


def port_name() -> String:
    """The schema of a port's name: an IANA service name, as Kubernetes ports have."""
    return String(
        min_length=1,
        max_length=15,
        pattern=PORT_NAME_PATTERN,
        pattern_message="must be an IANA service name (such as ssh or http): at most 15 "
        "lowercase letters, digits and '-', starting and ending with a letter or digit",
        rules=PORT_NAME_RULES,
    )


def resource_name() -> String:
    """The schema of a device plugin's resource name, such as ``nvidia.com/TU104GL_Tesla_T4``."""
    return String(
        min_length=3,
        max_length=317,
        pattern=RESOURCE_NAME_PATTERN,
        pattern_message="must be a resource name as a device plugin advertises it, "
        "<vendor domain>/<name> such as nvidia.com/TU104GL_Tesla_T4",
    )


def label_value() -> String:
    """The schema of a label's value: at most 63 letters, digits, '-', '_' and '.'."""
    return String(
        max_length=63,
        pattern=LABEL_VALUE_PATTERN,
        pattern_message="must be a label value: at most 63 letters, digits, '-', '_' and '.', "
        "starting and ending with a letter or digit",
    )


def _label_keys_valid(labels: Any) -> bool:
    return all(
        len(key) <= LABEL_KEY_MAX and re.fullmatch(LABEL_KEY_PATTERN, key) is not None
        for key in labels
    )


LABEL_KEYS_RULE = Rule(
    f"self.all(k, size(k) <= {LABEL_KEY_MAX} && k.matches({cel_string(LABEL_KEY_PATTERN)}))",
    "every key must be a label key such as topology.kubernetes.io/zone or disktype: an "
    "optional DNS-subdomain prefix and '/', then at most 63 letters, digits, '-', '_' and '.'",
    _label_keys_valid,
)
"""On a map of labels (a node selector): every key is a label key."""
