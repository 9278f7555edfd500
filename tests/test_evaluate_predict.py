"""Averaging over views and ensemble members, top-k with ties, and the blacklist."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from inception_v4.evaluate import (
    blacklist_mask,
    ensemble,
    predict,
    rank_of_true,
    read_blacklist,
    summarize,
    topk_correct,
    validation_indices,
    view_probabilities,
)


class RowLogits(nn.Module):
    """Stub network: the logits of a view are the first K pixels of row ``row``, channel 0."""

    def __init__(self, k: int, row: int = 0) -> None:
        super().__init__()
        self.k, self.row, self.batches = k, row, []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.batches.append(len(x))
        return x[:, 0, self.row, : self.k]


def views_with_logits(rows: list[list[list[float]]], size: int = 8) -> torch.Tensor:
    """``V`` views whose row r, channel 0 holds ``log(rows[v][r])``: softmax gives them back."""
    v = torch.zeros(len(rows), 3, size, size)
    for i, per_row in enumerate(rows):
        for r, probs in enumerate(per_row):
            v[i, 0, r, : len(probs)] = torch.log(torch.tensor(probs))
    return v


P_A, P_B = [0.7, 0.2, 0.1], [0.1, 0.3, 0.6]


def test_predict_is_mean_of_softmax_over_views() -> None:
    views = views_with_logits([[P_A], [P_B]])
    probs = predict(RowLogits(3), views)
    assert probs.shape == (3,)
    assert torch.allclose(probs, torch.tensor([0.4, 0.25, 0.35]), atol=1e-6)


def test_predict_chunks_bound_the_batch_and_keep_the_result() -> None:
    rows = [[[0.5 + 0.04 * i, 0.3, 0.2 - 0.04 * i + 1e-3]] for i in range(5)] * 2
    views = views_with_logits(rows)
    stub = RowLogits(3)
    small = predict(stub, views, chunk=3)
    assert max(stub.batches) == 3 and sum(stub.batches) == 10
    assert torch.allclose(small, predict(RowLogits(3), views, chunk=100), atol=1e-7)


def test_predict_batches_of_images_average_per_image() -> None:
    views = torch.stack([views_with_logits([[P_A], [P_B]]), views_with_logits([[P_B], [P_B]])])
    probs = predict(RowLogits(3), views)  # N x V x C x H x W -> N x K
    assert torch.allclose(probs, torch.tensor([[0.4, 0.25, 0.35], P_B]), atol=1e-6)
    assert view_probabilities(RowLogits(3), views).shape == (2, 2, 3)


def test_ensemble_averages_members_and_identical_members_equal_one() -> None:
    views = views_with_logits([[P_A, P_B], [P_B, P_B]])  # row 0 for member 1, row 1 for 2
    one, two = RowLogits(3, row=0), RowLogits(3, row=1)
    member1 = torch.tensor([0.4, 0.25, 0.35])
    assert torch.allclose(ensemble([one, two], views), (member1 + torch.tensor(P_B)) / 2,
                          atol=1e-6)
    assert torch.allclose(ensemble([one, one, one], views), predict(one, views), atol=1e-7)


def test_ensemble_takes_one_view_tensor_per_member() -> None:
    a, b = views_with_logits([[P_A]]), views_with_logits([[P_B]], size=12)
    got = ensemble([RowLogits(3), RowLogits(3)], [a, b])
    assert torch.allclose(got, torch.tensor([0.4, 0.25, 0.35]), atol=1e-6)
    with pytest.raises(ValueError, match="one per model"):
        ensemble([RowLogits(3)], [a, b])
    with pytest.raises(ValueError, match="number of classes"):
        ensemble([RowLogits(3), RowLogits(2)], a)


def test_predict_restores_training_mode() -> None:
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 5), nn.Dropout(0.5)).train()
    x = torch.randn(6, 3, 4, 4)
    first = predict(net, x)
    assert net.training and torch.allclose(first, predict(net, x))  # dropout off while predicting


SCORES = torch.tensor([
    [0.50, 0.20, 0.20, 0.10],  # label 1: tied with class 2 for second place
    [0.25, 0.25, 0.25, 0.25],  # label 0: all tied
    [0.10, 0.60, 0.20, 0.10],  # label 1: clear winner
    [0.40, 0.30, 0.20, 0.10],  # label 3: last
])
LABELS = torch.tensor([1, 0, 1, 3])


def test_topk_hand_made_cases_with_pessimistic_ties() -> None:
    assert rank_of_true(SCORES, LABELS).tolist() == [2, 3, 0, 3]
    assert topk_correct(SCORES, LABELS, 1).tolist() == [False, False, True, False]
    assert topk_correct(SCORES, LABELS, 2).tolist() == [False, False, True, False]
    assert topk_correct(SCORES, LABELS, 3).tolist() == [True, False, True, False]
    assert topk_correct(SCORES, LABELS, 4).tolist() == [True, True, True, True]


def test_topk_ties_do_not_depend_on_class_order() -> None:
    perm = torch.tensor([3, 1, 0, 2])  # new class j is old class perm[j]
    inverse = torch.argsort(perm)
    for k in (1, 2, 3):
        assert torch.equal(topk_correct(SCORES[:, perm], inverse[LABELS], k),
                           topk_correct(SCORES, LABELS, k))


def test_topk_rejects_bad_labels() -> None:
    with pytest.raises(ValueError, match="labels must lie in"):
        topk_correct(SCORES, torch.tensor([0, 1, 2, 4]), 1)


def test_summarize_fractions() -> None:
    c1 = torch.tensor([True, False, False, True])
    c5 = torch.tensor([True, True, False, True])
    s = summarize(c1, c5, seconds=2.0)
    assert s == {"images": 4, "top1_err": 0.5, "top5_err": 0.25, "top1_acc": 0.5,
                 "top5_acc": 0.75, "seconds": 2.0, "images_per_s": 2.0}


def test_read_blacklist(tmp_path: Path) -> None:
    path = tmp_path / "blacklist.txt"
    path.write_text("36\n50\n\n# comment\n 51 \n")
    assert read_blacklist(path) == {36, 50, 51}
    path.write_text("36\nx7\n")
    with pytest.raises(ValueError, match=r"blacklist.txt:2: 'x7'"):
        read_blacklist(path)
    with pytest.raises(FileNotFoundError, match="one 1-based"):
        read_blacklist(tmp_path / "missing.txt")


def test_blacklist_matches_by_name_never_by_position() -> None:
    named = ["n01/ILSVRC2012_val_00000003.JPEG", "n02/ILSVRC2012_val_00000001.JPEG",
             "n02/n02_123.JPEG"]
    assert validation_indices(named) == [3, 1, None]
    assert blacklist_mask(named, {1, 2}).tolist() == [False, True, False]
    renamed = ["b/img_c.png", "a/img_a.png", "a/img_b.png"]  # no ILSVRC names: no guess
    assert validation_indices(renamed) == [None, None, None]
    with pytest.raises(ValueError, match="none of the 3 image"):
        blacklist_mask(renamed, {3})

