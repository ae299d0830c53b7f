"""KeyPair: an SSH public key that servers of the namespace can be given (Nova's keypairs)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Self

from nimbus_operator.constants import COMPUTE_GROUP
from nimbus_operator.models.common import (
    Condition,
    ObjectMeta,
    conditions_field,
    immutable,
    observed_generation_field,
    phase_field,
)
from nimbus_operator.models.compute.names import COMPUTE_CATEGORIES, cel_string
from nimbus_operator.models.compute.sshkeys import (
    PUBLIC_KEY_HINT,
    PUBLIC_KEY_PATTERN,
    PublicKeyError,
    SshPublicKey,
    parse_public_key,
)
from nimbus_operator.models.errors import SpecError
from nimbus_operator.models.kind import PrinterColumn, ResourceKind, Scope
from nimbus_operator.models.schema import (
    Integer,
    Rule,
    SpecModel,
    StatusModel,
    String,
    model,
    prop,
)

MAX_PUBLIC_KEY_LENGTH = 8192
"""Room for a 16384-bit RSA key (about 2,800 characters) and a long comment."""

PUBLIC_KEY_RULE = Rule(
    f"self.matches({cel_string(PUBLIC_KEY_PATTERN)})",
    PUBLIC_KEY_HINT,
    lambda text: re.fullmatch(PUBLIC_KEY_PATTERN, text) is not None,
)


class KeyPairPhase(StrEnum):
    """A one-word summary of a KeyPair's state."""

    PENDING = "Pending"
    READY = "Ready"
    FAILED = "Failed"
    DELETING = "Deleting"


class PublicKey(String):
    """An OpenSSH public key line: the schema checks its form, the parser the key inside."""

    def _parse(self, value: Any, path: str) -> Any:
        text = super()._parse(value, path)
        try:
            parse_public_key(text)
        except PublicKeyError as error:
            raise SpecError(path, str(error)) from error
        return text


@model
class KeyPairSpec(SpecModel):
    """The public half of an SSH key pair; the private half never leaves its owner."""

    public_key: str = prop(
        "The public key, one line as in ~/.ssh/id_ed25519.pub: ssh-ed25519, ssh-rsa (at "
        "least 2048 bits) or ecdsa-sha2-nistp256/384/521, the base64 key and an optional "
        "comment. Servers naming this KeyPair get it in authorized_keys through cloud-init. "
        "Cannot change, as in Nova: create another KeyPair.",
        PublicKey(
            min_length=1,
            max_length=MAX_PUBLIC_KEY_LENGTH,
            rules=(
                PUBLIC_KEY_RULE,
                immutable("publicKey cannot change: create another KeyPair"),
            ),
        ),
    )

    @property
    def key(self) -> SshPublicKey:
        """The parsed key, with its fingerprints."""
        return parse_public_key(self.public_key)


@model
class KeyPairStatus(StatusModel):
    """What the operator last observed of a KeyPair."""

    observed_generation: int | None = observed_generation_field()
    phase: KeyPairPhase | None = phase_field(
        KeyPairPhase,
        "A one-word summary: Pending, Ready, Failed or Deleting (waiting for its users to go).",
    )
    conditions: tuple[Condition, ...] = conditions_field()
    fingerprint: str | None = prop(
        "The key's SHA256 fingerprint as ssh-keygen -l prints it (SHA256:...).",
        String(max_length=64),
        default=None,
    )
    md5_fingerprint: str | None = prop(
        "The key's MD5 fingerprint as ssh-keygen -l -E md5 prints it (MD5:aa:bb:...); "
        "Nova's keypair fingerprint is the same without the MD5: prefix.",
        String(max_length=64),
        default=None,
    )
    key_type: str | None = prop(
        "The key's type as ssh-keygen -l prints it: ED25519, RSA or ECDSA.",
        String(max_length=16),
        default=None,
    )
    bits: int | None = prop("The key's size in bits.", Integer(minimum=0), default=None)

    @classmethod
    def of_key(cls, key: SshPublicKey, **fields: Any) -> Self:
        """The status fields that describe ``key``, plus ``fields`` (phase, conditions...)."""
        return cls(
            fingerprint=key.fingerprint,
            md5_fingerprint=key.md5_fingerprint,
            key_type=key.family,
            bits=key.bits,
            **fields,
        )


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A KeyPair as the operator sees it: its metadata and its parsed spec."""

    metadata: ObjectMeta
    spec: KeyPairSpec

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Self:
        """Parse a whole custom-resource body; raises `SpecError` for a bad spec."""
        return cls(ObjectMeta.from_body(body), KeyPairSpec.from_body(body))


KEY_PAIR = ResourceKind(
    kind="KeyPair",
    plural="keypairs",
    short_names=("kp",),
    scope=Scope.NAMESPACED,
    description=(
        "KeyPair is an SSH public key, as Nova's keypairs are: VirtualServers of the same "
        "namespace that name it get it in their authorized_keys through cloud-init. The "
        "status shows its fingerprint as ssh-keygen -l prints it."
    ),
    spec=KeyPairSpec,
    status=KeyPairStatus,
    printer_columns=(
        PrinterColumn("Fingerprint", ".status.fingerprint", "string", "SHA256 fingerprint."),
    ),
    group=COMPUTE_GROUP,
    categories=COMPUTE_CATEGORIES,
)
