"""This machine's apt sources for the guest's release: the mirrors mmdebstrap uses, so the
guest comes from the same archive (and snapshot, when pinned) as the host."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class AptSource:
    uri: str
    suite: str
    components: tuple[str, ...]
    signed_by: str = ""

    def line(self) -> str:
        options = f"[signed-by={self.signed_by}] " if self.signed_by else ""
        return f"deb {options}{self.uri} {self.suite} {' '.join(self.components)}"


def parse_one_line_sources(text: str) -> list[AptSource]:
    """``deb [options] uri suite components...`` entries (``deb-src`` and comments skipped)."""
    sources = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line.startswith("deb "):
            continue
        rest = line[4:].strip()
        options: dict[str, str] = {}
        if rest.startswith("["):
            inside, _, rest = rest[1:].partition("]")
            for option in inside.split():
                name, _, value = option.partition("=")
                options[name] = value
        words = rest.split()
        if len(words) < 2:
            continue
        signed_by = options.get("signed-by", "")
        sources.append(AptSource(words[0], words[1], tuple(words[2:]), signed_by))
    return sources


def parse_deb822_sources(text: str) -> list[AptSource]:
    """The ``Types: deb`` stanzas of a ``.sources`` file, one entry per URI and suite. An inline
    (multi-line) Signed-By key is dropped: only a keyring path carries over."""
    sources = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        current = ""
        for raw in stanza.splitlines():
            if raw.startswith("#"):
                continue
            if raw[:1] in {" ", "\t"} and current:
                fields[current] += "\n" + raw.strip()
                continue
            name, sep, value = raw.partition(":")
            if sep:
                current = name.strip().lower()
                fields[current] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        signed_by = fields.get("signed-by", "")
        if "\n" in signed_by or "BEGIN PGP" in signed_by:
            signed_by = ""
        components = tuple(fields.get("components", "").split())
        for uri in fields.get("uris", "").split():
            for suite in fields.get("suites", "").split():
                sources.append(AptSource(uri, suite, components, signed_by))
    return sources


def release_sources(sources: list[AptSource], release: str) -> list[AptSource]:
    """The entries for ``release`` and its own suites (``-updates``, ``-security``): Debian's,
    not a third party's (their suites have other names)."""
    wanted = []
    for source in sources:
        suite = source.suite
        ours = suite == release or suite.startswith((f"{release}-", f"{release}/"))
        if ours and source not in wanted:
            wanted.append(source)
    return wanted


def host_apt_sources(release: str, apt_dir: Path = Path("/etc/apt")) -> list[AptSource]:
    """This machine's apt entries for ``release`` (sources.list and sources.list.d)."""
    sources: list[AptSource] = []
    one_line = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]
    for path in one_line:
        if path.is_file():
            sources += parse_one_line_sources(path.read_text())
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        sources += parse_deb822_sources(path.read_text())
    return release_sources(sources, release)
