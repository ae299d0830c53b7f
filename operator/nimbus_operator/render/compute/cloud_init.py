"""The server's cloud-init user data: the user's own, plus the hostname and the SSH keys (pure).

How the user's data and ours are combined depends on what the user wrote, as cloud-init tells
it apart (the first line, case-insensitive, as cloud-init's ``type_from_starts_with``):

- Nothing: one ``#cloud-config`` document with ``hostname`` and ``ssh_authorized_keys``.
- A ``#cloud-config`` document that parses to a mapping: the same single document, merged in
  Python: the user's keys come first and win (``hostname`` is added only when the user set
  neither ``hostname`` nor ``fqdn``), and our keys are appended to the user's
  ``ssh_authorized_keys`` (duplicates dropped). One plain document keeps working with every
  NoCloud consumer, including the small ones that read no MIME; it is re-dumped from the
  parsed YAML, so comments and anchors do not survive, but cloud-init (which loads it with the
  same ``yaml.safe_load``) sees the same data.
- Anything else (a ``#!`` script, ``#include``, ``#cloud-boothook``, a jinja template, a
  ``#cloud-config-archive``, a MIME multipart archive, or a ``#cloud-config`` that is not a
  mapping): a MIME ``multipart/mixed`` archive, as ``cloud-init devel make-mime`` writes: the
  user's data as it is (its own MIME parts nested unchanged), then a ``text/cloud-config``
  part of ours whose ``merge_how`` is ``list(append)+dict(no_replace,recurse_list)+str()``,
  so whatever cloud-config the user's parts hold keeps its values and our keys are appended
  to its ``ssh_authorized_keys``. The boundary is a hash of the content, so the archive is
  the same on every render (a changing user data would change the VM and restart it). Text
  that is not ASCII is sent as UTF-8 in base64; line ends reach the guest as LF.

``ssh_authorized_keys`` go to cloud-init's default user (ubuntu, fedora, ...), as Nova's keys
do; a cloud-config whose ``users`` leaves out ``default`` has no default user to get them.
"""

from __future__ import annotations

import hashlib
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.parser import Parser
from typing import Any

import yaml

from nimbus_operator.render.compute.design import ServerDesign
from nimbus_operator.render.compute.meta import owned_meta
from nimbus_operator.render.compute.names import INLINE_USER_DATA_MAX, USER_DATA_KEY

CLOUD_CONFIG_HEADER = "#cloud-config"
CLOUD_CONFIG_TYPE = "text/cloud-config"
UNKNOWN_TYPE = "text/plain"
"""cloud-init looks at the content of a text/plain part to find its type, as for raw data."""
MERGE_HOW = "list(append)+dict(no_replace,recurse_list)+str()"
OUR_PART_FILENAME = "nimbus-operator.cfg"
USER_PART_FILENAME = "user-data"

# cloud-init's content types by the start of the data (handlers.INCLUSION_TYPES_MAP); the
# longest prefix wins, so #cloud-config-archive is not taken for #cloud-config.
_TYPES_BY_PREFIX = {
    "#include": "text/x-include-url",
    "#include-once": "text/x-include-once-url",
    "#!": "text/x-shellscript",
    "#cloud-config": CLOUD_CONFIG_TYPE,
    "#part-handler": "text/part-handler",
    "#cloud-boothook": "text/cloud-boothook",
    "#cloud-config-archive": "text/cloud-config-archive",
    "#cloud-config-jsonp": "text/cloud-config-jsonp",
    "## template: jinja": "text/jinja2",
}
_PREFIXES = sorted(_TYPES_BY_PREFIX, key=len, reverse=True)


def user_data_type(user_data: str) -> str | None:
    """cloud-init's content type for raw user data by its first characters; None when it is
    a MIME archive (see `is_mime`) or of no known type."""
    if is_mime(user_data):
        return None
    start = user_data.lstrip().lower()
    return next((_TYPES_BY_PREFIX[p] for p in _PREFIXES if start.startswith(p)), None)


def is_mime(user_data: str) -> bool:
    """Whether cloud-init reads the data as a MIME archive (a MIME-Version header in its
    first 4096 bytes, as cloud-init's ``convert_string`` looks for)."""
    return b"mime-version:" in user_data.encode("utf-8")[:4096].lower()


class _Dumper(yaml.SafeDumper):
    """A safe dumper that writes multi-line strings as literal blocks (readable files)."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def _dump_cloud_config(config: dict[str, Any]) -> str:
    body = yaml.dump(
        config,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=2**16,
    )
    return f"{CLOUD_CONFIG_HEADER}\n{body}"


def _our_config(design: ServerDesign) -> dict[str, Any]:
    config: dict[str, Any] = {"hostname": design.name}
    keys = _keys(design)
    if keys:
        config["ssh_authorized_keys"] = keys
    return config


def _keys(design: ServerDesign) -> list[str]:
    keys: list[str] = []
    for key in design.public_keys:
        line = key.strip()
        if line and line not in keys:
            keys.append(line)
    return keys


def _merged_cloud_config(design: ServerDesign, user_data: str) -> str | None:
    """The user's #cloud-config with our hostname and keys merged in; None when it is not a
    YAML mapping whose ssh_authorized_keys (if any) is a list (the multipart path)."""
    try:
        config = yaml.safe_load(user_data)
    except yaml.YAMLError:
        return None
    if config is None:
        config = {}
    if not isinstance(config, dict):
        return None
    user_keys = config.get("ssh_authorized_keys")
    if user_keys is not None and not isinstance(user_keys, list):
        return None
    merged = dict(config)
    if "hostname" not in merged and "fqdn" not in merged:
        merged["hostname"] = design.name
    keys = _keys(design)
    if keys:
        present = list(user_keys or [])
        merged["ssh_authorized_keys"] = present + [k for k in keys if k not in present]
    return _dump_cloud_config(merged)


def _charset(text: str) -> str:
    """us-ascii text stays readable (7bit); anything else is UTF-8 in base64."""
    return "us-ascii" if text.isascii() else "utf-8"


def _text_part(text: str, content_type: str, filename: str) -> MIMEText:
    subtype = content_type.split("/", 1)[1]
    part = MIMEText(text, subtype, _charset(text))
    part.add_header("Content-Disposition", "attachment", filename=filename)
    return part


def _user_part(user_data: str) -> Message:
    if is_mime(user_data):
        return Parser().parsestr(user_data)
    return _text_part(user_data, user_data_type(user_data) or UNKNOWN_TYPE, USER_PART_FILENAME)


def _boundary(*texts: str) -> str:
    digest = hashlib.sha256("\0".join(texts).encode("utf-8"))
    for attempt in range(100):
        boundary = f"==nimbus-{digest.hexdigest()[:32]}=="
        if not any(boundary in text for text in texts):
            return boundary
        digest.update(str(attempt).encode())
    raise ValueError("no MIME boundary found that the user data does not contain")


def _multipart(design: ServerDesign, user_data: str) -> str:
    ours = _dump_cloud_config({**_our_config(design), "merge_how": MERGE_HOW})
    archive = MIMEMultipart(boundary=_boundary(user_data, ours))
    archive.attach(_user_part(user_data))
    archive.attach(_text_part(ours, CLOUD_CONFIG_TYPE, OUR_PART_FILENAME))
    return archive.as_string()


def cloud_init_user_data(design: ServerDesign) -> str:
    """The user data the server's cloud-init reads: the user's ``spec.userData`` with the
    server's hostname and its KeyPairs' keys (see the module's docstring for how)."""
    user_data = design.server.spec.user_data or ""
    if not user_data.strip():
        return _dump_cloud_config(_our_config(design))
    if user_data_type(user_data) == CLOUD_CONFIG_TYPE:
        merged = _merged_cloud_config(design, user_data)
        if merged is not None:
            return merged
    return _multipart(design, user_data)


def user_data_is_inline(design: ServerDesign, user_data: str) -> bool:
    """Whether the user data goes inline in the VM (at most 2048 bytes, KubeVirt's limit)
    rather than through the ``<server>-cloud-init`` Secret."""
    return design.inline_user_data and len(user_data.encode("utf-8")) <= INLINE_USER_DATA_MAX


def build_cloud_init_secret(design: ServerDesign) -> dict[str, Any] | None:
    """The ``<server>-cloud-init`` Secret (key ``userdata``, which KubeVirt's
    ``cloudInitNoCloud.secretRef`` reads) when the user data cannot be inline; else None."""
    user_data = cloud_init_user_data(design)
    if user_data_is_inline(design, user_data):
        return None
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": owned_meta(design, design.cloud_init_secret),
        "type": "Opaque",
        "stringData": {USER_DATA_KEY: user_data},
    }
