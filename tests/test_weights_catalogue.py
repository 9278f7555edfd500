"""One table of known weights, read by the hub, timm_compat, the paper's figures and the card;
one door (resolve_model) for create_model(pretrained=) and timm."""

from __future__ import annotations

from pathlib import Path

import torch

from inception_v4 import create_model, save_pretrained
from inception_v4.evaluate.paper import NETWORKS, PUBLISHED
from inception_v4.models import list_models
from inception_v4.timm_compat import HUB_WEIGHTS
from inception_v4.weights.card import licence_note
from inception_v4.weights.catalogue import CATALOGUE
from inception_v4.weights.hub import _repo_id

SMALL = {"width": 0.25, "depth": 0.2}


def test_catalogue_entries_feed_hub_timm_paper_and_card() -> None:
    for w in CATALOGUE:
        assert w.model in list_models() and w.preprocessing()["input_size"][0] == 3
        assert licence_note(f"/tmp/{w.matches[0]}_weights.pth") == w.licence
        if w.hub_id is not None:
            assert _repo_id(f"timm:{w.model}") == w.hub_id
            assert HUB_WEIGHTS[w.model] == f"timm:{w.name}"
        if w.top1_err is not None:
            figures = {(p.reference, p.top1_err, p.top5_err)
                       for p in PUBLISHED[(NETWORKS[w.model], 1)]}
            assert (w.reference, w.top1_err, w.top5_err) in figures
    assert set(HUB_WEIGHTS) == {"inception_v4", "inception_resnet_v2"}


def test_create_model_pretrained_goes_through_the_resolver(tmp_path: Path) -> None:
    source = create_model("inception_resnet_v1", num_classes=4, **SMALL).eval()
    save_pretrained(source, tmp_path / "ours")
    model = create_model("inception_resnet_v1", num_classes=4, pretrained=tmp_path / "ours",
                         **SMALL)
    assert model.training and model.weights_kind == "ours weights"  # set by resolve_model
    x = torch.randn(1, 3, 75, 75)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), source(x))
