"""cloud-init user data: the user's data and the server's hostname and keys must both reach
cloud-init, whatever the user wrote. Each case is parsed back as cloud-init would: the YAML of a
#cloud-config, or the parts of a MIME archive with their content types."""

from __future__ import annotations

import email
from email.message import Message
from typing import Any

import pytest
import yaml
from nimbus_operator.render.compute.cloud_init import (
    MERGE_HOW,
    build_cloud_init_secret,
    cloud_init_user_data,
    is_mime,
    user_data_type,
)
from nimbus_operator.render.compute.disks import volumes
from nimbus_operator.render.compute.names import INLINE_USER_DATA_MAX, USER_DATA_KEY

from tests.unit.operator.compute_designs import design, server
from tests.unit.operator.compute_samples import ED25519_KEY, RSA_KEY

KEYS = (ED25519_KEY, RSA_KEY + "\n")
KEY_LINES = [ED25519_KEY, RSA_KEY]
SCRIPT = "#!/bin/bash\necho hello > /tmp/hello\n"
USER_MIME = (
    'Content-Type: multipart/mixed; boundary="===user==="\n'
    "MIME-Version: 1.0\n\n"
    "--===user===\n"
    'Content-Type: text/cloud-config; charset="us-ascii"\n\n'
    "#cloud-config\nhostname: chosen\nssh_authorized_keys: [ssh-ed25519 AAAAuser user@x]\n\n"
    "--===user===\n"
    'Content-Type: text/x-shellscript; charset="us-ascii"\n\n'
    "#!/bin/sh\necho from-mime\n"
    "--===user===--\n"
)


def _user_data(user_data: str | None = None, keys: tuple[str, ...] = KEYS) -> str:
    spec: dict[str, Any] = {} if user_data is None else {"userData": user_data}
    return cloud_init_user_data(design(server("web-1", **spec), keys=keys))


def _cloud_config(text: str) -> dict[str, Any]:
    assert text.startswith("#cloud-config\n")
    loaded = yaml.safe_load(text)
    assert isinstance(loaded, dict)
    return loaded


def _parts(text: str) -> list[tuple[str, str]]:
    """(content type, decoded payload) of every leaf part, in order, as cloud-init walks them."""
    assert is_mime(text)
    archive = email.message_from_string(text)
    assert archive.get_content_type() == "multipart/mixed"
    found = []
    for part in archive.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        found.append((part.get_content_type(), payload.decode("utf-8")))
    return found


def _our_part(text: str) -> dict[str, Any]:
    """The last part, ours: a cloud-config that merges into the user's without replacing."""
    content_type, payload = _parts(text)[-1]
    assert content_type == "text/cloud-config"
    config = _cloud_config(payload)
    assert config.pop("merge_how") == MERGE_HOW
    return config


def test_no_user_data_is_a_cloud_config_with_the_hostname_and_keys() -> None:
    text = _user_data()
    assert _cloud_config(text) == {"hostname": "web-1", "ssh_authorized_keys": KEY_LINES}


def test_no_user_data_and_no_keys_still_sets_the_hostname() -> None:
    assert _cloud_config(_user_data(keys=())) == {"hostname": "web-1"}


def test_a_cloud_config_is_merged_into_one_document() -> None:
    user = (
        "#cloud-config\n"
        "packages: [nginx]\n"
        "ssh_authorized_keys:\n- ssh-ed25519 AAAAuser user@x\n- " + ED25519_KEY + "\n"
        "write_files:\n- path: /etc/motd\n  content: |\n    hello\n    world\n"
    )
    config = _cloud_config(_user_data(user))
    assert config == {
        "packages": ["nginx"],
        # The user's keys first, ours after, a key already there not twice.
        "ssh_authorized_keys": ["ssh-ed25519 AAAAuser user@x", ED25519_KEY, RSA_KEY],
        "write_files": [{"path": "/etc/motd", "content": "hello\nworld\n"}],
        "hostname": "web-1",
    }


@pytest.mark.parametrize("field", ["hostname", "fqdn"])
def test_the_users_hostname_or_fqdn_wins(field: str) -> None:
    config = _cloud_config(_user_data(f"#cloud-config\n{field}: chosen.example\n"))
    assert config[field] == "chosen.example"
    assert "hostname" not in config or config["hostname"] == "chosen.example"
    assert config["ssh_authorized_keys"] == KEY_LINES


def test_an_empty_cloud_config_gets_ours() -> None:
    config = _cloud_config(_user_data("#cloud-config\n"))
    assert config == {"hostname": "web-1", "ssh_authorized_keys": KEY_LINES}


def test_a_script_goes_as_it_is_beside_our_cloud_config() -> None:
    text = _user_data(SCRIPT)
    assert _parts(text)[0] == ("text/x-shellscript", SCRIPT)
    assert _our_part(text) == {"hostname": "web-1", "ssh_authorized_keys": KEY_LINES}


def test_non_ascii_user_data_survives_the_archive() -> None:
    script = "#!/bin/sh\necho 'héllo wörld' > /tmp/greeting\n"
    assert _parts(_user_data(script))[0] == ("text/x-shellscript", script)


def test_a_mime_archive_keeps_its_own_parts() -> None:
    text = _user_data(USER_MIME)
    parts = _parts(text)
    assert [content_type for content_type, _ in parts] == [
        "text/cloud-config",
        "text/x-shellscript",
        "text/cloud-config",
    ]
    assert _cloud_config(parts[0][1])["hostname"] == "chosen"
    assert parts[1][1].startswith("#!/bin/sh\necho from-mime")
    assert _our_part(text) == {"hostname": "web-1", "ssh_authorized_keys": KEY_LINES}


@pytest.mark.parametrize(
    ("user_data", "content_type"),
    [
        ("#cloud-boothook\n#!/bin/sh\necho early\n", "text/cloud-boothook"),
        ("#include\nhttps://config.example/user-data\n", "text/x-include-url"),
        ("## template: jinja\n#cloud-config\nruncmd: ['{{ v1.instance_id }}']\n", "text/jinja2"),
        (
            "#cloud-config-archive\n- type: text/cloud-config\n  content: 'a: 1'\n",
            "text/cloud-config-archive",
        ),
        ("#cloud-config\n- a list is not a cloud-config\n", "text/cloud-config"),
        ("#cloud-config\npackages: [unclosed\n", "text/cloud-config"),
        ("#cloud-config\nssh_authorized_keys: one-key-as-a-string\n", "text/cloud-config"),
        ("plain words\n", "text/plain"),
    ],
)
def test_other_user_data_goes_as_it_is_in_an_archive(user_data: str, content_type: str) -> None:
    text = _user_data(user_data)
    first_type, first_payload = _parts(text)[0]
    assert first_payload == user_data
    assert first_type == content_type
    assert _our_part(text) == {"hostname": "web-1", "ssh_authorized_keys": KEY_LINES}


def test_user_data_types_are_told_apart_as_cloud_init_does() -> None:
    assert user_data_type("  #Cloud-Config\n") == "text/cloud-config"
    assert user_data_type("#cloud-config-jsonp\n[]") == "text/cloud-config-jsonp"
    assert user_data_type("#!/usr/bin/env python3\n") == "text/x-shellscript"
    assert user_data_type("#include-once\nhttps://x\n") == "text/x-include-once-url"
    assert user_data_type("hello") is None
    assert user_data_type(USER_MIME) is None
    assert is_mime(USER_MIME)
    assert not is_mime(SCRIPT)


def test_the_archive_is_the_same_on_every_render() -> None:
    assert _user_data(SCRIPT) == _user_data(SCRIPT)
    boundary = email.message_from_string(_user_data(SCRIPT)).get_boundary()
    assert boundary is not None
    assert boundary.startswith("==nimbus-")
    # Another user data, another boundary: it is a hash of the content.
    assert email.message_from_string(_user_data(SCRIPT + "#\n")).get_boundary() != boundary


def _cloud_init_volume(user_data: str, *, inline: bool = True) -> dict[str, Any]:
    the_design = design(server("web-1", userData=user_data), inline_user_data=inline)
    volume = next(v for v in volumes(the_design) if v["name"] == "cloudinitdisk")
    source: dict[str, Any] = volume["cloudInitNoCloud"]
    return source


def test_user_data_up_to_2048_bytes_is_inline_and_more_goes_through_the_secret() -> None:
    # The merged document adds the hostname line: find the longest user data that fits.
    padding = INLINE_USER_DATA_MAX - len(_user_data("#cloud-config\nx: a\n", keys=()))
    fits = "#cloud-config\nx: a" + "a" * padding + "\n"
    assert len(_user_data(fits, keys=()).encode()) == INLINE_USER_DATA_MAX
    assert _cloud_init_volume(fits) == {"userData": _user_data(fits, keys=())}
    assert build_cloud_init_secret(design(server("web-1", userData=fits))) is None

    too_big = fits.replace("x: a", "x: aa")
    assert _cloud_init_volume(too_big) == {"secretRef": {"name": "web-1-cloud-init"}}
    secret = build_cloud_init_secret(design(server("web-1", userData=too_big)))
    assert secret is not None
    assert secret["metadata"]["name"] == "web-1-cloud-init"
    assert secret["stringData"] == {USER_DATA_KEY: _user_data(too_big, keys=())}


def test_multibyte_characters_count_as_bytes() -> None:
    text = "#cloud-config\nmotd: '" + "é" * 1100 + "'\n"  # 1100 characters, 2200 bytes
    assert _cloud_init_volume(text) == {"secretRef": {"name": "web-1-cloud-init"}}


def test_inline_user_data_can_be_turned_off() -> None:
    assert _cloud_init_volume(SCRIPT, inline=False) == {"secretRef": {"name": "web-1-cloud-init"}}
    the_design = design(server("web-1", userData=SCRIPT), inline_user_data=False)
    secret = build_cloud_init_secret(the_design)
    assert secret is not None
    assert secret["stringData"][USER_DATA_KEY] == cloud_init_user_data(the_design)


def _first_part(text: str) -> Message:
    archive = email.message_from_string(text)
    payload = archive.get_payload()
    assert isinstance(payload, list)
    first = payload[0]
    assert isinstance(first, Message)
    return first


def test_the_users_part_is_named_for_cloud_inits_logs() -> None:
    assert _first_part(_user_data(SCRIPT)).get_filename() == "user-data"
