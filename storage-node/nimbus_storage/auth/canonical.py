"""The pieces of a SigV4 canonical request: URI-encoding, the canonical URI, query and headers.

Everything here is a pure function of what the client sent. S3 differs from the generic SigV4
rules in one important way: the path is neither normalized nor double-encoded, so a key such
as ``a/../b//c`` is signed exactly as it travels.

Clients do not all agree on how to encode what they send, so the URI and the query each have
one *primary* canonical form and, where the raw text is ambiguous, one alternative:

* the path: as sent (what botocore and the other SDKs sign), else decoded and re-encoded the
  AWS way (for clients that send e.g. lower-case ``%2f`` or unescaped ``!``);
* the query: ``+`` means a space, as AWS and aiohttp read it, else a literal ``+``.

Trying an alternative never weakens the check: every form still needs a valid signature.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from urllib.parse import quote, unquote_to_bytes

# AWS "URI-encode": everything but the unreserved characters becomes %XX (upper-case hex).
_UNRESERVED = "-_.~"


def uri_encode(raw: bytes | str) -> str:
    """Percent-encode per the SigV4 rules (RFC 3986 unreserved characters stay literal)."""
    return quote(raw, safe=_UNRESERVED)


def path_candidates(raw_path: str) -> list[str]:
    """Canonical URIs to try for ``raw_path``, most likely first, without duplicates.

    ``raw_path`` is the request target as the client sent it; anything after ``?`` is ignored
    (a literal ``?`` in a key always travels as ``%3F``).
    """
    path = raw_path.partition("?")[0] or "/"
    # Segment by segment, so an escaped slash (%2F) stays part of its segment.
    reencoded = "/".join(uri_encode(unquote_to_bytes(segment)) for segment in path.split("/"))
    return [path] if reencoded == path else [path, reencoded]


def parse_query(raw_query: str, *, plus_is_space: bool = True) -> list[tuple[str, str]]:
    """Decode ``raw_query`` into (name, value) pairs, keeping order and repeats.

    Invalid UTF-8 in a percent-escape is kept as U+FFFD; such parameters are only ever
    compared after re-encoding, which :func:`canonical_query` does from the raw bytes.
    """
    return [
        (name.decode("utf-8", "replace"), value.decode("utf-8", "replace"))
        for name, value in _raw_pairs(raw_query, plus_is_space=plus_is_space)
    ]


def _raw_pairs(raw_query: str, *, plus_is_space: bool) -> Iterator[tuple[bytes, bytes]]:
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        if plus_is_space:
            name, value = name.replace("+", " "), value.replace("+", " ")
        yield unquote_to_bytes(name), unquote_to_bytes(value)


def canonical_query(raw_query: str, *, plus_is_space: bool, exclude: str | None) -> str:
    """The canonical query string: every pair re-encoded, sorted by name then value.

    ``exclude`` names a parameter left out (``X-Amz-Signature`` for presigned URLs). A
    parameter without ``=`` (``?acl``) becomes ``acl=``.
    """
    encoded = sorted(
        (uri_encode(name), uri_encode(value))
        for name, value in _raw_pairs(raw_query, plus_is_space=plus_is_space)
        if exclude is None or name != exclude.encode()
    )
    return "&".join(f"{name}={value}" for name, value in encoded)


def query_candidates(raw_query: str, *, exclude: str | None) -> list[str]:
    """Canonical query strings to try, ``+``-as-space first; one unless the query has a ``+``."""
    first = canonical_query(raw_query, plus_is_space=True, exclude=exclude)
    if "+" not in raw_query:
        return [first]
    second = canonical_query(raw_query, plus_is_space=False, exclude=exclude)
    return [first] if second == first else [first, second]


def lower_case_headers(headers: Mapping[str, str]) -> dict[str, list[str]]:
    """Group header values by lower-cased name, keeping every value of a repeated header.

    Works for a plain dict and for a ``multidict.CIMultiDictProxy`` (whose ``items()`` yields
    each repeat separately).
    """
    grouped: dict[str, list[str]] = {}
    for name, value in headers.items():
        grouped.setdefault(name.lower(), []).append(value)
    return grouped


def trim_all(value: str) -> str:
    """SigV4 ``Trimall``: strip both ends and collapse inner whitespace runs to one space."""
    return " ".join(value.split())


def canonical_headers(headers: Mapping[str, Sequence[str]], signed: Iterable[str]) -> str:
    """``name:value\\n`` for each signed header, in the order the client listed them.

    Repeated headers join with commas. A signed header that is absent canonicalizes to an
    empty value, which then simply fails the signature check.
    """
    lines = []
    for name in signed:
        values = headers.get(name, ())
        lines.append(f"{name}:{','.join(trim_all(value) for value in values)}\n")
    return "".join(lines)
