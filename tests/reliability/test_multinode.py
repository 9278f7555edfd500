"""Two nodes for real: two torchrun agents on this machine (``--nnodes 2``, c10d rendezvous on
127.0.0.1, gloo). SIGKILL of one node's worker restarts both groups (``--max-restarts``)
from the last checkpoint; with ``--nnodes 1:2``, losing a whole node (agent and worker) lets
the survivor re-rendezvous alone and finish at world size 1. With ``--sync-bn`` both end
as close to an uninterrupted one-process run as rounding allows
(``train_helpers.rounding_bound``)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import torch
from multinode import TRAIN, Agent, free_port, saved_step, torchrun_node
from multinode import wait_until as wait_for
from train_helpers import make_image_folder, rounding_bound, weights_difference

from inception_v4 import cli

STEPS = 6  # 2 epochs of 3 steps
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not torch.distributed.is_gloo_available(), reason="no gloo")]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, float]:
    """The data, an uninterrupted one-process run of it, and how far rounding alone moves
    that run (:func:`train_helpers.rounding_bound`)."""
    root = tmp_path_factory.mktemp("nodes")
    data = make_image_folder(root / "data")

    def one_process(out: Path) -> None:
        assert cli.main(["train", "--data", str(data), "--out", str(out),
                         "--max-steps", str(STEPS), "--epochs", "2", *TRAIN]) == 0

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one_process(root / "one")
        bound = rounding_bound(one_process, root / "one", threads=2)
    finally:
        torch.set_num_threads(threads)
    return data, root / "one", bound


def _nodes(nnodes: str, data: Path, out: Path) -> list[Agent]:
    port = free_port()
    args = ["--data", str(data), "--out", str(out), "--max-steps", str(STEPS), "--epochs", "2",
            *TRAIN]
    return [Agent(torchrun_node(nnodes, port, host, args)) for host in (True, False)]


def test_killed_worker_on_one_node_restarts_both_groups(reference: tuple[Path, Path, float],
                                                       tmp_path: Path, reliability) -> None:  # noqa: ANN001
    data, one, bound = reference
    out = tmp_path / "run"
    nodes = _nodes("2", data, out)
    wait_for(lambda: saved_step(nodes) >= 2 and nodes[1].workers(), nodes, 600)
    os.kill(nodes[1].workers()[0], signal.SIGKILL)
    codes = [node.wait(600) for node in nodes]
    texts = [node.text() for node in nodes]
    assert codes == [0, 0], "\n---\n".join(t[-3000:] for t in texts)
    assert all(len(node.workers()) == 2 for node in nodes)  # each group restarted once
    assert "resuming from" in "".join(texts)
    state = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert state["progress"]["step"] == STEPS and state["sampler"]["world"] == 2
    worst = weights_difference(one, out)
    assert worst <= bound, (worst, bound)
    reliability("multi-node", "SIGKILL of one node's worker (2 agents, --nnodes 2, "
                "--max-restarts 2)", 1, f"both groups restart from the last checkpoint and "
                f"finish; weights within rounding of a 1-process run ({worst:.1e})")


def test_lost_node_leaves_the_survivor_to_finish_alone(reference: tuple[Path, Path, float],
                                                       tmp_path: Path, reliability) -> None:  # noqa: ANN001
    data, one, bound = reference
    out = tmp_path / "run"
    nodes = _nodes("1:2", data, out)
    wait_for(lambda: saved_step(nodes) >= 2, nodes, 600)
    nodes[1].lose_node()  # the agent and its worker, SIGKILLed at once
    code = nodes[0].wait(600)
    text = nodes[0].text()
    assert code == 0, text[-4000:]
    assert len(nodes[0].workers()) >= 2 and "1 processes instead of 2" in text
    state = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert state["progress"]["step"] == STEPS and state["sampler"]["world"] == 1
    worst = weights_difference(one, out)
    assert worst <= bound, (worst, bound)
    reliability("multi-node", "node lost: agent and worker SIGKILLed (--nnodes 1:2)", 1,
                f"the survivor re-rendezvouses alone, resumes at world size 1 and finishes; "
                f"weights within rounding of a 1-process run ({worst:.1e})")
