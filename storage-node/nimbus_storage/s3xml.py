"""XML in and out of the S3 API.

Requests are parsed with size limits and with DTDs and entities refused (no billion laughs, no
external entities), namespaces stripped so ``<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">``
and ``<Delete>`` read the same. A value's text is exact (``<Key> a </Key>`` is the key " a ");
only values that are tokens (numbers, booleans, ETags, enumerations) are read stripped. Responses
are built from nested Python values.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any
from xml.sax.saxutils import escape

from nimbus_storage.s3errors import MalformedXML, MaxMessageLengthExceeded

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
# A raw carriage return would be read back as a line feed (XML end-of-line handling).
_ENTITIES = {"\r": "&#13;"}
# Characters XML 1.0 has no place for, not even as references: C0 controls but TAB, LF and CR,
# and U+FFFE, U+FFFF. Keys may hold them; AWS writes them as references (``&#x1;``), which
# strict parsers refuse: clients that store such keys list with encoding-type=url.
_NOT_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
DEFAULT_MAX_XML = 1024 * 1024

# A value in a response tree: text, a number, a bool, None (omitted), a nested tree, or a list
# of same-named elements. Typed as Any because mypy cannot check recursive aliases here.
XmlValue = Any
XmlTree = Mapping[str, Any] | Iterable[tuple[str, Any]]


_NO_DTD = "DTDs and entities are not accepted"


class _RefuseDoctype(ET.TreeBuilder):
    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise MalformedXML(_NO_DTD)


def parse(body: bytes, *, max_size: int = DEFAULT_MAX_XML, root: str | None = None) -> ET.Element:
    """Parse a request body; raise MalformedXML for anything but a well-formed document."""
    if len(body) > max_size:
        raise MaxMessageLengthExceeded()
    if not body.strip():
        raise MalformedXML()
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise MalformedXML(_NO_DTD)
    # The byte check above misses a DTD in a UTF-16 document; the parser itself refuses it too.
    parser = ET.XMLParser(target=_RefuseDoctype())
    try:
        parser.feed(body)
        element = parser.close()
    except (ET.ParseError, ValueError, LookupError) as exc:  # bad or unreadable encodings
        raise MalformedXML() from exc
    for node in element.iter():
        if isinstance(node.tag, str) and node.tag.startswith("{"):
            node.tag = node.tag.split("}", 1)[1]
    if root is not None and element.tag != root:
        raise MalformedXML(f"expected a <{root}> document, got <{element.tag}>")
    return element


def text(element: ET.Element, path: str, default: str | None = None) -> str | None:
    """The exact text of the child ``path`` (white space included), or ``default`` without one:
    for keys, prefixes, names, ids. A child holding elements rather than text is MalformedXML."""
    found = element.find(path)
    if found is None:
        return default
    if len(found):
        raise MalformedXML(f"<{path}> holds elements, not text")
    return found.text or ""


def token(element: ET.Element, path: str, default: str | None = None) -> str | None:
    """The text of the child ``path`` without surrounding white space, or ``default``: for
    numbers, booleans, ETags and enumerations, where white space is only layout."""
    value = text(element, path)
    return default if value is None else value.strip()


def required_token(element: ET.Element, path: str) -> str:
    value = token(element, path)
    if value is None:
        raise MalformedXML(f"missing <{path}>")
    return value


def escape_text(value: str) -> str:
    """``value`` as XML character data; what XML 1.0 cannot hold as ``&#xN;``, as AWS writes it."""
    escaped = escape(value, _ENTITIES)
    return _NOT_XML_CHARS.sub(lambda found: f"&#x{ord(found.group()):X};", escaped)


def _text(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return escape_text(value)


def _append(out: list[str], tag: str, value: XmlValue) -> None:
    if value is None:
        return
    if isinstance(value, list):
        for item in value:
            _append(out, tag, item)
        return
    if isinstance(value, str | int | bool):
        out.append(f"<{tag}>{_text(value)}</{tag}>")
        return
    out.append(f"<{tag}>")
    _fill(out, value)
    out.append(f"</{tag}>")


def _fill(out: list[str], tree: XmlTree) -> None:
    items = tree.items() if isinstance(tree, Mapping) else tree
    for tag, value in items:
        _append(out, tag, value)


def _open_root(root: str, namespace: bool) -> str:
    return f'<{root} xmlns="{S3_NS}">' if namespace else f"<{root}>"


def render(root: str, tree: XmlTree, *, namespace: bool = True) -> bytes:
    """Render ``{"Name": "b", "Contents": [{...}, {...}]}`` as an S3 response document.

    Mappings keep insertion order; a list repeats its tag; None omits the element. Built as
    text rather than through ElementTree: a 1,000-key listing renders several times faster.
    """
    out = [_open_root(root, namespace)]
    _fill(out, tree)
    out.append(f"</{root}>")
    return XML_DECLARATION + "".join(out).encode("utf-8", "surrogateescape")


def render_text(root: str, value: str) -> bytes:
    """A document whose root element holds only text (GetBucketLocation)."""
    body = f"{_open_root(root, True)}{escape_text(value)}</{root}>" if value else ""
    if not value:
        body = f'<{root} xmlns="{S3_NS}"/>'
    return XML_DECLARATION + body.encode("utf-8")
