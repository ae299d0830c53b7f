"""``python -m tests.support.storage_cluster up`` refuses a cluster it cannot build before it
starts anything, and ``down`` signals only the cluster's own processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support import storage_cluster
from tests.support.storage_cluster import StorageCluster, layout_problems


def test_a_cluster_that_can_run_has_no_problems() -> None:
    assert layout_problems(3, 3, None) == []
    assert layout_problems(4, 3, None, gateways=2) == []
    assert layout_problems(3, 3, "2+1") == []
    assert layout_problems(8, 6, "4+2") == []


@pytest.mark.parametrize(
    ("nodes", "replicas", "ec", "gateways", "problem"),
    [
        (3, 6, "4+2", 1, "erasure coding 4+2 needs at least 6 nodes (one per fragment archive)"),
        (6, 3, "4+2", 1, "the ring needs 6 replicas, not 3"),
        (3, 3, "4-2", 1, "an erasure-coding policy is K+M, like 4+2, not '4-2'"),
        (3, 3, "0+2", 1, "bad erasure-coding policy 0+2"),
        (2, 3, None, 1, "3 replicas need at least 3 nodes (one device each), not 2"),
        (0, 1, None, 1, "a cluster needs at least 1 node, not 0"),
        (3, 0, None, 1, "the ring needs at least 1 replica, not 0"),
        (3, 3, None, 0, "a cluster needs at least 1 gateway, not 0"),
    ],
)
def test_each_problem_is_named(
    nodes: int, replicas: int, ec: str | None, gateways: int, problem: str
) -> None:
    found = layout_problems(nodes, replicas, ec, gateways)
    assert any(problem in p for p in found), found


def test_too_few_nodes_for_ec_is_said_once() -> None:
    assert len(layout_problems(3, 6, "4+2")) == 1


def test_the_class_refuses_what_it_cannot_build(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs at least 6 nodes"):
        StorageCluster(tmp_path, nodes=3, replicas=6, ec="4+2")
    with pytest.raises(ValueError, match=r"proxied names node 3; the nodes are 0\.\.2"):
        StorageCluster(tmp_path, proxied=(3,))
    with pytest.raises(ValueError, match="device_sizes names node 5"):
        StorageCluster(tmp_path, device_sizes={5: "1m"})
    assert not any(tmp_path.iterdir())


def test_up_with_too_few_nodes_for_ec_starts_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "cluster"
    assert storage_cluster.main(["up", "--ec", "4+2", "--dir", str(root)]) == 2
    err = capsys.readouterr().err
    assert "erasure coding 4+2 needs at least 6 nodes (one per fragment archive), not 3" in err
    assert "nothing started" in err
    assert not root.exists()


def test_replicas_that_disagree_with_ec_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "cluster"
    argv = ["up", "--ec", "2+1", "--replicas", "2", "--dir", str(root)]
    assert storage_cluster.main(argv) == 2
    assert "the ring needs 3 replicas, not 2" in capsys.readouterr().err
    assert not root.exists()


def test_up_refuses_a_directory_holding_a_cluster_or_leftovers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    holding = tmp_path / "holding"
    holding.mkdir()
    (holding / storage_cluster.STATE_FILE).write_text("{}")
    assert storage_cluster.main(["up", "--dir", str(holding)]) == 1
    assert "holds a cluster; run `down` first" in capsys.readouterr().err
    leftovers = tmp_path / "leftovers"
    (leftovers / "node-0").mkdir(parents=True)
    assert storage_cluster.main(["up", "--dir", str(leftovers)]) == 1
    assert "is not empty and records no cluster" in capsys.readouterr().err
    assert (leftovers / "node-0").is_dir()  # not removed: it may be someone's


def test_down_without_a_cluster_does_nothing(tmp_path: Path) -> None:
    assert storage_cluster.main(["down", "--dir", str(tmp_path / "none")]) == 0
    (tmp_path / "kept").mkdir()
    assert storage_cluster.main(["down", "--dir", str(tmp_path / "kept")]) == 0
    assert (tmp_path / "kept").is_dir()


def test_down_signals_no_process_that_is_not_the_cluster_s(tmp_path: Path) -> None:
    """A PID in the state file that now belongs to another process (here: this test) is left
    alone."""
    state = {"gateway_pids": [os.getpid()], "nodes": [{"address": "x", "pid": os.getppid()}]}
    (tmp_path / storage_cluster.STATE_FILE).write_text(json.dumps(state))
    assert storage_cluster.stop_recorded(tmp_path, grace=0.1) == []
