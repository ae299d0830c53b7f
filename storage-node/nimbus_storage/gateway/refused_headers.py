"""Request headers S3 defines that Nimbus does not act on: answered 501 NotImplemented from the
request head, before any body is read, rather than ignored (an ignored lock, append or
condition would store or delete what the client asked to protect).

Server-side encryption headers are ``encryption.py``'s; this module covers the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from nimbus_storage.s3errors import NotImplementedError_

__all__ = ["REFUSED_BY_OPERATION", "REFUSED_EVERYWHERE", "REFUSED_PREFIXES", "refuse_headers"]

# Object Lock's retention and legal-hold headers are acted on by the writes that take them
# (gateway/object_lock.py); its event holds are not.
REFUSED_PREFIXES: Mapping[str, str] = {
    "x-amz-object-lock-event-hold": "Object Lock event holds are not supported",
}
REFUSED_EVERYWHERE: Mapping[str, str] = {
    "x-amz-write-offset-bytes": "appending to an object is not supported",
}
# Every conditional header of an operation is now acted on (conditional_writes.py); an
# operation's own refusals would be listed here.
REFUSED_BY_OPERATION: Mapping[str, frozenset[str]] = {}
_CONDITIONAL = "conditional requests are not supported on this operation"


def refuse_headers(operation: str, header_names: Iterable[str]) -> None:
    """Raise 501 NotImplemented naming the first header of ``header_names`` that ``operation``
    does not act on."""
    own = REFUSED_BY_OPERATION.get(operation, frozenset())
    for name in header_names:
        lower = name.lower()
        reason = REFUSED_EVERYWHERE.get(lower) or (_CONDITIONAL if lower in own else None)
        for prefix, why in REFUSED_PREFIXES.items():
            if lower.startswith(prefix):
                reason = why
        if reason is not None:
            raise NotImplementedError_(
                f"The {lower} header is not supported on {operation}: {reason}", Header=lower
            )
