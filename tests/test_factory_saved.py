"""``create_model(name, pretrained=OUR_FOLDER, ...)`` rebuilds the saved network (its own width
and depth), ``features_only`` included; ``load_model`` takes ``features_only`` too."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from inception_v4 import create_model, load_model, save_pretrained

TINY = {"width": 0.25, "depth": 0.2}
SIZE = 75


def test_features_only_from_a_saved_reduced_network(tmp_path: Path) -> None:
    saved = create_model("inception_resnet_v2", num_classes=4, **TINY).eval()
    save_pretrained(saved, tmp_path / "w")
    x = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = saved.forward_intermediates(x, [1, 3, 4], intermediates_only=True)
        for model in (create_model("inception_resnet_v2", pretrained=tmp_path / "w",
                                   features_only=True, out_indices=(1, 3, 4)).eval(),
                      load_model(tmp_path / "w", features_only=True, out_indices=(1, 3, 4))):
            got = model(x)
            assert [g.shape for g in got] == [w.shape for w in want]
            for g, w in zip(got, want, strict=True):
                torch.testing.assert_close(g, w, rtol=0, atol=0)  # the same weights, same ops
    full = create_model("inception_resnet_v2", pretrained=tmp_path / "w")
    assert full.init_args["width"] == 0.25 and full.num_classes == 4 and full.training
    with pytest.raises(ValueError, match="wrongly shaped"):  # asked for another width
        create_model("inception_resnet_v2", pretrained=tmp_path / "w", width=0.5)
