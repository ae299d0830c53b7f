"""The S3 listing walk, independent of what is listed (objects, versions, uploads).

Rows come from an index ordered by ``(key, ordinal)`` (the ordinal orders rows of one key: newest
version first, oldest upload first). A listing is a walk from a start position that turns every
key containing the delimiter after the prefix into its common prefix. The walk never visits the
members of a common prefix: on the first member it seeks to :func:`prefix_successor` of the
common prefix, the smallest string above every key that starts with it. A page therefore costs
one index seek per common prefix plus one row per key returned, however many keys each common
prefix hides; that is what keeps ``delimiter=/`` listings of a million keys fast.

Keys compare as UTF-8 bytes (S3's order). Python compares ``str`` by code point, which is the same
order, and SQLite's BINARY collation compares the stored UTF-8 with memcmp, which is too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

R = TypeVar("R")

MIN_ORDINAL = -(2**63)
MAX_ORDINAL = 2**63 - 1
_SURROGATES = range(0xD800, 0xE000)


@dataclass(frozen=True, slots=True)
class Position:
    """The walk continues with the rows strictly after ``(key, ordinal)``."""

    key: str
    ordinal: int

    @classmethod
    def before_key(cls, key: str) -> Position:
        """Start with the first row of ``key`` (or the first key above it)."""
        return cls(key, MIN_ORDINAL)

    @classmethod
    def after_key(cls, key: str) -> Position:
        """Start with the first row of the first key above ``key``."""
        return cls(key, MAX_ORDINAL)


@dataclass(frozen=True, slots=True)
class CommonPrefix:
    prefix: str


@dataclass(frozen=True, slots=True)
class Walk(Generic[R]):
    items: list[R | CommonPrefix]  # in listing order
    is_truncated: bool


def prefix_successor(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix``.

    None when there is none (the empty prefix, or one made only of U+10FFFF).
    """
    chars = prefix
    while chars:
        following = ord(chars[-1]) + 1
        if following in _SURROGATES:
            following = _SURROGATES.stop  # not encodable in UTF-8, never in a key
        if following <= 0x10FFFF:
            return chars[:-1] + chr(following)
        chars = chars[:-1]
    return None


def start_position(prefix: str, marker: str) -> Position:
    """Where a listing with ``prefix`` resumes after ``marker`` (S3's marker / start-after)."""
    if marker and marker >= prefix:
        return Position.after_key(marker)
    return Position.before_key(prefix)


def walk(
    fetch: Callable[[Position, int], Iterable[R]],
    key_of: Callable[[R], str],
    position_of: Callable[[R], Position],
    *,
    prefix: str,
    delimiter: str,
    start: Position,
    marker: str,
    limit: int,
) -> Walk[R]:
    """Collect up to ``limit`` rows and common prefixes, in order, from ``start``.

    ``fetch(position, n)`` yields at most ``n`` rows after ``position`` whose keys start with
    ``prefix``, lazily (a SQLite cursor: rows after a roll-up are never read). A common prefix
    not above ``marker`` was returned on an earlier page and is skipped with its members.
    """
    items: list[R | CommonPrefix] = []
    wanted = limit + 1  # one more than asked tells whether the listing is truncated
    position = start
    more_rows = True
    while more_rows and len(items) < wanted:
        more_rows = False
        for row in fetch(position, wanted - len(items)):
            key = key_of(row)
            split = key.find(delimiter, len(prefix)) if delimiter else -1
            if split < 0:
                items.append(row)
                position = position_of(row)
                continue
            common = key[: split + len(delimiter)]
            if common > marker:
                items.append(CommonPrefix(common))
            beyond = prefix_successor(common)
            if beyond is not None:
                position = Position.before_key(beyond)
                more_rows = True
            break
    return Walk(items[:limit], len(items) > limit)
