"""What a storage node says of itself: how much each of its devices still holds (drains)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from nimbus_operator.errors import RetryLater

TIMEOUT_SECONDS = 5.0


def held_items(node_address: str) -> int:
    """Partition directories plus database replicas on every device of the node at
    ``host:port``; 0 once a drained node has handed everything over."""
    url = f"http://{node_address}/_nimbus/holdings"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            answer = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise RetryLater(
            f"storage node {node_address} did not say what it holds: {error}"
        ) from error
    devices = answer.get("devices") or {}
    return sum(int(d.get("partitions", 0)) + int(d.get("databases", 0)) for d in devices.values())
