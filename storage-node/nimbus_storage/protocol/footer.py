"""Metadata that follows a blob's bytes in a node PUT: what is only known once the whole body
went through the gateway (a checksum a client sends in an aws-chunked trailer), when the
``X-Nimbus-Meta`` header had to go first.

A PUT with ``X-Nimbus-Meta-Footer: N`` carries ``Content-Length - N`` bytes of blob, then ``N``
bytes of footer: a JSON object of strings, padded with spaces to exactly ``N`` bytes, whose
keys are added to the header's meta (Swift sends such footers as a MIME document; a fixed size
keeps the body's length known up front). The gateway always sends ``FOOTER_SIZE`` bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

FOOTER_HEADER = "X-Nimbus-Meta-Footer"
FOOTER_SIZE = 512
MAX_FOOTER_SIZE = 64 * 1024


def encode_footer(meta: Mapping[str, str], size: int = FOOTER_SIZE) -> bytes:
    """``meta`` as a footer of exactly ``size`` bytes; ValueError when it does not fit."""
    encoded = json.dumps(dict(meta), ensure_ascii=True, separators=(",", ":")).encode()
    if len(encoded) > size:
        raise ValueError(f"metadata of {len(encoded)} bytes does not fit a {size}-byte footer")
    return encoded.ljust(size)


def footer_size(header: str | None) -> int:
    """The footer's size a PUT announces (0: none); ValueError when the header is bad."""
    if header is None:
        return 0
    if not header.isdigit() or not 0 < int(header) <= MAX_FOOTER_SIZE:
        raise ValueError(f"{FOOTER_HEADER} must be a size from 1 to {MAX_FOOTER_SIZE} bytes")
    return int(header)


def decode_footer(raw: bytes) -> dict[str, str]:
    """The metadata of a footer; ValueError when it is not a JSON object of strings."""
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"the meta footer is not JSON: {exc}") from None
    if not isinstance(doc, dict) or not all(isinstance(v, str) for v in doc.values()):
        raise ValueError("the meta footer must be a JSON object of strings")
    return doc
