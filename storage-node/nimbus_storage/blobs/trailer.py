"""Metadata known only once a blob's body has been read to its end: a ``BodyTrailer``.

A client may send a checksum after its data (an aws-chunked trailer), and a checksum sent as a
header is only verified once the data is in; either way the fact is not known when the write of
the blob starts. Whoever reads the body creates a trailer and ``set``s it when the body ends;
whoever writes the blob takes the body's chunks and, only once they are exhausted, the trailer's
``facts`` to store beside the caller's meta (``BlobStore.put(..., trailer=...)``). A node PUT
carries it after the blob's bytes, as the meta footer (protocol/footer.py).

Reading the facts before the body ended is a bug (a fact would be missing from the stored
blob), so it raises ``TrailerNotReady`` instead of answering what is known so far.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType


class TrailerNotReady(RuntimeError):
    """A trailer was read before the body it follows had ended."""


class BodyTrailer:
    """Facts about a body that are known only at its end; set once, then read-only."""

    __slots__ = ("_facts",)

    def __init__(self) -> None:
        self._facts: Mapping[str, str] | None = None

    @classmethod
    def of(cls, facts: Mapping[str, str]) -> BodyTrailer:
        """A trailer already complete (a body whose end adds nothing, or is already known)."""
        trailer = cls()
        trailer.set(facts)
        return trailer

    @property
    def complete(self) -> bool:
        """Whether the body ended and the facts are set."""
        return self._facts is not None

    def set(self, facts: Mapping[str, str]) -> None:
        """The body ended with these facts; a trailer is set only once (RuntimeError)."""
        if self._facts is not None:
            raise RuntimeError("the body trailer is already set")
        self._facts = MappingProxyType(dict(facts))

    def facts(self) -> Mapping[str, str]:
        """The facts; TrailerNotReady while the body has not ended."""
        if self._facts is None:
            raise TrailerNotReady("the body trailer was read before the body ended")
        return self._facts

    def __repr__(self) -> str:
        state = dict(self._facts) if self._facts is not None else "pending"
        return f"BodyTrailer({state})"


def with_trailer(meta: Mapping[str, str], trailer: BodyTrailer | None) -> dict[str, str]:
    """``meta`` and the trailer's facts (which win over a key of ``meta``), to store with a
    blob once its body is exhausted; just ``meta`` without a trailer."""
    if trailer is None:
        return dict(meta)
    return {**meta, **trailer.facts()}
