"""The one record of a network's constructor arguments and everything that reads it."""

from __future__ import annotations

import inspect
from dataclasses import fields
from pathlib import Path

import pytest

from inception_v4 import create_model
from inception_v4.checkpoint import MUST_MATCH
from inception_v4.models import ModelArgs, build_network
from inception_v4.train import TrainConfig
from inception_v4.train.config import to_dict
from inception_v4.weights.resolve import from_checkpoint

RECORD = {f.name: f.default for f in fields(ModelArgs)}


@pytest.mark.parametrize("fn", [build_network, create_model])
def test_model_args_keywords_of_each_builder_are_the_record(fn) -> None:
    params = inspect.signature(fn).parameters
    assert {k: params[k].default for k in RECORD if k in params} == RECORD


def test_model_args_train_config_fields_share_the_record_defaults() -> None:
    shared = {f.name: f.default for f in fields(TrainConfig) if f.name in RECORD}
    assert set(shared) == {"width", "depth", "residual_scale", "residual", "aux_logits",
                           "drop_rate"}
    assert shared == {k: RECORD[k] for k in shared}
    # every field that changes the network must match on resume; dropout may change
    assert set(shared) - {"drop_rate"} <= set(MUST_MATCH) and "drop_rate" not in MUST_MATCH


def test_model_args_reject_bad_values_with_the_field_name() -> None:
    with pytest.raises(ValueError, match="width must be a finite number > 0"):
        ModelArgs(width=0.0)
    with pytest.raises(ValueError, match=r"drop_rate must be in \[0, 1\)"):
        TrainConfig(drop_rate=1.0)
    with pytest.raises(ValueError, match="residual_scale must be a finite number >= 0"):
        TrainConfig(residual_scale=float("nan"))


def test_model_args_rebuild_a_training_checkpoint_with_every_field(tmp_path: Path) -> None:
    config = TrainConfig(model="inception_resnet_v1", width=0.25, depth=0.2, residual=False,
                         residual_scale=0.3, aux_logits=True, drop_rate=0.5)
    net = build_network("inception_resnet_v1", num_classes=5, width=0.25, depth=0.2,
                        residual=False, residual_scale=0.3, aux_logits=True, drop_rate=0.5)
    ckpt = {"model": net.state_dict(), "config": to_dict(config)}
    model = from_checkpoint(tmp_path / "last.pt", ckpt)
    assert model.init_args == net.init_args == config.model_args(5).as_dict()
    assert model.init_args["residual"] is False and model.num_classes == 5
