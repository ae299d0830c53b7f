"""Every kind the CRDs define has its handlers registered with kopf (a dropped import would
leave a kind silently unreconciled)."""

from __future__ import annotations

import kopf
import nimbus_operator.handlers  # noqa: F401  (registers the handlers)
from nimbus_operator.models.crdgen import KINDS


def test_every_kind_is_watched_for_changes_and_resynced() -> None:
    registry = kopf.get_default_registry()
    changing = {h.selector.any_name for h in registry._changing.get_all_handlers()}  # type: ignore[union-attr]
    timed = {h.selector.any_name for h in registry._spawning.get_all_handlers()}  # type: ignore[union-attr]

    plurals = {kind.plural for kind in KINDS}

    assert len(plurals) == 10
    assert plurals <= changing
    assert plurals <= timed
