"""OpenSSH public keys: the one-line format, the key inside it, and its fingerprints.

`parse_public_key` reads a line of an ``id_*.pub`` file (``ssh-ed25519 AAAA... me@laptop``),
checks the key inside (its wire format, RFC 4253 and RFC 8709) and gives its fingerprints
as ``ssh-keygen -l`` prints them. Pure: no files, no processes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
)
"""The key types a KeyPair accepts (ssh-dss is gone from OpenSSH)."""

PUBLIC_KEY_PATTERN = (
    r"^(ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp(256|384|521)) AAAA[A-Za-z0-9+/]+={0,3}"
    r"( [^\n]*)?\n?$"
)
"""One line: the type, one space, the base64 key, an optional comment, one optional newline."""

PUBLIC_KEY_HINT = (
    "must be an OpenSSH public key on one line: ssh-ed25519, ssh-rsa or "
    "ecdsa-sha2-nistp256/384/521, a space, the base64 key and an optional comment, as in "
    "~/.ssh/id_ed25519.pub"
)

MIN_RSA_BITS = 2048
MAX_RSA_BITS = 16384
_ECDSA_POINT_BYTES = {"nistp256": 65, "nistp384": 97, "nistp521": 133}
_ED25519_KEY_BYTES = 32
_COPY_HINT = "copy the whole line of the .pub file unchanged"


class PublicKeyError(ValueError):
    """The text is not a usable OpenSSH public key; the message says what to do."""


@dataclass(frozen=True, slots=True)
class SshPublicKey:
    """A parsed OpenSSH public key."""

    key_type: str
    """``ssh-ed25519``, ``ssh-rsa`` or ``ecdsa-sha2-nistp256`` (384, 521)."""
    blob: bytes
    """The key in SSH wire format (the base64-decoded middle of the line)."""
    comment: str
    bits: int

    @property
    def family(self) -> str:
        """What ``ssh-keygen -l`` prints in parentheses: ED25519, RSA or ECDSA."""
        if self.key_type == "ssh-ed25519":
            return "ED25519"
        if self.key_type == "ssh-rsa":
            return "RSA"
        return "ECDSA"

    @property
    def fingerprint(self) -> str:
        """The SHA256 fingerprint as ``ssh-keygen -l`` prints it: ``SHA256:<base64>``."""
        digest = hashlib.sha256(self.blob).digest()
        return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")

    @property
    def md5_fingerprint(self) -> str:
        """The MD5 fingerprint as ``ssh-keygen -l -E md5`` prints it: ``MD5:aa:bb:...``."""
        digest = hashlib.md5(self.blob, usedforsecurity=False).hexdigest()
        return "MD5:" + ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))

    @property
    def line(self) -> str:
        """The key as one line of an authorized_keys file."""
        encoded = base64.b64encode(self.blob).decode("ascii")
        return " ".join(part for part in (self.key_type, encoded, self.comment) if part)


class _Reader:
    """Reads the length-prefixed fields of the SSH wire format."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def string(self) -> bytes:
        if self.offset + 4 > len(self.data):
            raise PublicKeyError(f"is truncated: {_COPY_HINT}")
        length = int.from_bytes(self.data[self.offset : self.offset + 4], "big")
        start = self.offset + 4
        if start + length > len(self.data):
            raise PublicKeyError(f"is truncated: {_COPY_HINT}")
        self.offset = start + length
        return self.data[start : self.offset]

    def mpint(self) -> int:
        return int.from_bytes(self.string(), "big", signed=True)

    def finish(self) -> None:
        if self.offset != len(self.data):
            raise PublicKeyError(f"has bytes after the key: {_COPY_HINT}")


def parse_public_key(text: str) -> SshPublicKey:
    """Parse one line of an ``id_*.pub`` file; raises `PublicKeyError` saying what is wrong."""
    if re.fullmatch(PUBLIC_KEY_PATTERN, text) is None:
        raise PublicKeyError(PUBLIC_KEY_HINT)
    key_type, encoded, *rest = text.rstrip("\n").split(" ", 2)
    try:
        blob = base64.b64decode(encoded, validate=True)
    except binascii.Error as error:
        raise PublicKeyError(f"has a key that is not valid base64: {_COPY_HINT}") from error
    reader = _Reader(blob)
    inner = reader.string().decode("ascii", errors="replace")
    if inner != key_type:
        raise PublicKeyError(f"says {key_type} but holds a {inner} key: {_COPY_HINT}")
    bits = _key_bits(key_type, reader)
    reader.finish()
    return SshPublicKey(key_type, blob, rest[0] if rest else "", bits)


def _key_bits(key_type: str, reader: _Reader) -> int:
    if key_type == "ssh-ed25519":
        if len(reader.string()) != _ED25519_KEY_BYTES:
            raise PublicKeyError(f"holds an ed25519 key of the wrong length: {_COPY_HINT}")
        return 256
    if key_type == "ssh-rsa":
        exponent, modulus = reader.mpint(), reader.mpint()
        if exponent < 3 or modulus <= 0:
            raise PublicKeyError(f"holds a damaged RSA key: {_COPY_HINT}")
        bits = modulus.bit_length()
        if bits < MIN_RSA_BITS:
            raise PublicKeyError(
                f"is an RSA key of {bits} bits, too weak: use at least {MIN_RSA_BITS} bits, "
                "or better an ed25519 key (ssh-keygen -t ed25519)"
            )
        if bits > MAX_RSA_BITS:
            raise PublicKeyError(f"is an RSA key of {bits} bits: at most {MAX_RSA_BITS}")
        return bits
    curve = key_type.removeprefix("ecdsa-sha2-")
    if reader.string() != curve.encode("ascii"):
        raise PublicKeyError(f"holds a key of another curve than {curve}: {_COPY_HINT}")
    point = reader.string()
    if len(point) != _ECDSA_POINT_BYTES[curve] or point[0] != 4:
        raise PublicKeyError(f"holds a damaged ECDSA key: {_COPY_HINT}")
    return int(curve.removeprefix("nistp"))
