"""The recipe's arithmetic: schedule, TF RMSProp, averaging, config, checkpoint files."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from train_helpers import make_image_folder

from inception_v4.checkpoint import files, read_training_checkpoint, run_state
from inception_v4.checkpoint.integrity import seal
from inception_v4.data import eval_transform, prewhiten
from inception_v4.train import (
    PAPER_BATCH,
    ModelEma,
    RMSpropTF,
    TrainConfig,
    config_learning_rate,
    learning_rate,
    load_preset,
    param_groups,
    parse_overrides,
    replace,
)
from inception_v4.train.build import open_splits, set_transforms, start_network
from inception_v4.train.config import parse_value

# (epoch, lr): 0.045 × 0.94^⌊epoch/2⌋ at the paper's global batch 640 = 32 × 20.
PAPER_SCHEDULE = [
    (0.0, 0.045),
    (1.0, 0.045),
    (1.999, 0.045),
    (2.0, 0.0423),
    (3.5, 0.0423),
    (4.0, 0.039762),
    (10.0, 0.033025681008),
    (100.0, 0.002039882695),
]


@pytest.mark.parametrize(("epoch", "lr"), PAPER_SCHEDULE)
def test_learning_rate_follows_paper_staircase(epoch: float, lr: float) -> None:
    assert learning_rate(epoch) == pytest.approx(lr, rel=1e-9)


@pytest.mark.parametrize(("batch", "epoch", "lr"), [
    (320, 0.0, 0.0225), (1280, 0.0, 0.09), (32, 2.0, 0.0423 / 20), (640, 2.0, 0.0423)])
def test_learning_rate_scales_linearly_with_global_batch(batch: int, epoch: float,
                                                         lr: float) -> None:
    assert PAPER_BATCH == 640
    assert learning_rate(epoch, batch_size=batch) == pytest.approx(lr, rel=1e-9)


@pytest.mark.parametrize(("schedule", "epoch", "lr"), [
    ("onecycle", 0.0, 0.0), ("onecycle", 1.0, 0.1), ("onecycle", 2.0, 0.2),
    ("onecycle", 5.0, 0.1), ("onecycle", 8.0, 0.0),
    ("cosine", 0.0, 0.0), ("cosine", 1.0, 0.1), ("cosine", 2.0, 0.2), ("cosine", 5.0, 0.1),
    ("cosine", 8.0, 0.0), ("step", 1.0, 0.1), ("step", 2.0, 0.188),
    ("step", 4.0, 0.2 * 0.94**2)])
def test_learning_rate_warmup_schedules(schedule: str, epoch: float, lr: float) -> None:
    got = learning_rate(epoch, lr=0.2, schedule=schedule, epochs=8.0, warmup_epochs=2.0,
                        batch_size=64, reference_batch=64)
    assert got == pytest.approx(lr, abs=1e-12)


def _run_optimizer(opt_cls, grads, **kwargs) -> list[float]:  # noqa: ANN001
    p = nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    opt = opt_cls([p], **kwargs)
    out = []
    for g in grads:
        p.grad = torch.tensor([g], dtype=torch.float64)
        opt.step()
        out.append(p.item())
    return out


def test_rmsprop_tf_matches_hand_computation() -> None:
    # lr 0.1, decay 0.9, momentum 0.9, eps 1.0; ms starts at 1, mom at 0, w at 1.
    # 1: ms = 1 + (0.25-1)*0.1 = 0.925;  mom = 0.1*0.5/sqrt(1.925) = 0.0360375;
    #    w = 1 - 0.0360375 = 0.9639625
    # 2: ms = 0.925 + (1-0.925)*0.1 = 0.9325;  mom = 0.9*0.0360375 - 0.1/sqrt(1.9325)
    #    = 0.0324337 - 0.0719350 = -0.0395013;  w = 1.0034638
    # 3: ms = 0.9325 + (4-0.9325)*0.1 = 1.23925;  mom = 0.9*(-0.0395013) + 0.2/sqrt(2.23925)
    #    = -0.0355511 + 0.1336530 = 0.0981019;  w = 0.9053619
    got = _run_optimizer(RMSpropTF, [0.5, -1.0, 2.0], lr=0.1, decay=0.9, momentum=0.9, eps=1.0)
    assert got == pytest.approx([0.9639625, 1.0034638, 0.9053619], abs=1e-7)


def test_rmsprop_tf_differs_from_torch_rmsprop() -> None:
    grads = [0.5, -1.0, 2.0]
    ours = _run_optimizer(RMSpropTF, grads, lr=0.1, decay=0.9, momentum=0.9, eps=1.0)
    torch_ = _run_optimizer(torch.optim.RMSprop, grads, lr=0.1, alpha=0.9, momentum=0.9,
                            eps=1.0)
    # torch: ms from 0, eps outside the root: w1 = 1 - 0.1*0.5/(sqrt(0.025)+1) = 0.956826
    assert torch_[0] == pytest.approx(0.9568263, abs=1e-6)
    assert abs(ours[0] - torch_[0]) > 5e-3
    assert max(abs(a - b) for a, b in zip(ours, torch_, strict=True)) > 5e-3


def test_rmsprop_tf_lr_change_acts_through_momentum_buffer() -> None:
    # lr folded into the buffer: after a switch to lr=0 the old momentum still moves w.
    p = nn.Parameter(torch.tensor([1.0], dtype=torch.float64))
    opt = RMSpropTF([p], lr=0.1, decay=0.9, momentum=0.9, eps=1.0)
    p.grad = torch.tensor([0.5], dtype=torch.float64)
    opt.step()
    opt.param_groups[0]["lr"] = 0.0
    opt.step()
    assert p.item() == pytest.approx(0.9639625 - 0.9 * 0.0360375, abs=1e-7)


def test_rmsprop_tf_weight_decay_is_coupled_l2() -> None:
    # g_eff = g + wd*w = 0 + 0.5*1 = 0.5: the same first step as a gradient of 0.5.
    got = _run_optimizer(RMSpropTF, [0.0], lr=0.1, decay=0.9, momentum=0.9, eps=1.0,
                         weight_decay=0.5)
    assert got == pytest.approx([0.9639625], abs=1e-7)


def test_param_groups_decay_only_conv_and_fc_weights() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3, bias=True), nn.BatchNorm2d(4), nn.Flatten(),
                          nn.Linear(4, 2))
    decay, no_decay = param_groups(model, 4e-5)
    assert decay["weight_decay"] == 4e-5 and no_decay["weight_decay"] == 0.0
    assert {id(p) for p in decay["params"]} == {id(model[0].weight), id(model[3].weight)}
    assert len(no_decay["params"]) == 4  # conv bias, BN weight and bias, FC bias


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor([1.0]))
        self.bn = nn.BatchNorm1d(1)


def test_ema_arithmetic_without_warmup() -> None:
    model = _Tiny()
    ema = ModelEma(model, decay=0.5, warmup=False)
    with torch.no_grad():
        model.w.fill_(3.0)
        model.bn.running_mean.fill_(4.0)
        model.bn.num_batches_tracked.fill_(7)
    ema.update(model)  # 0.5*1 + 0.5*3 = 2; running mean 0.5*0 + 0.5*4 = 2
    assert ema.module.w.item() == 2.0 and ema.module.bn.running_mean.item() == 2.0
    assert ema.module.bn.num_batches_tracked.item() == 7
    with torch.no_grad():
        model.w.fill_(5.0)
    ema.update(model)  # 0.5*2 + 0.5*5 = 3.5
    assert ema.module.w.item() == 3.5
    assert ema.module.bn.running_var.item() == 1.0  # 0.5*1 + 0.5*1


def test_ema_warmup_uses_tf_num_updates_decay() -> None:
    model = _Tiny()
    ema = ModelEma(model, decay=0.9999, warmup=True)
    assert ema.current_decay() == pytest.approx(0.1)  # (1+0)/(10+0)
    with torch.no_grad():
        model.w.fill_(3.0)
    ema.update(model)  # 0.1*1 + 0.9*3 = 2.8
    assert ema.module.w.item() == pytest.approx(2.8, abs=1e-6)
    assert ema.current_decay() == pytest.approx(2 / 11)
    ema.updates = 10**7
    assert ema.current_decay() == 0.9999


def test_config_defaults_are_the_paper_recipe() -> None:
    c = TrainConfig()
    assert (c.optimizer, c.lr, c.rmsprop_decay, c.rmsprop_eps, c.momentum) == \
        ("rmsprop_tf", 0.045, 0.9, 1.0, 0.9)
    assert (c.lr_decay, c.lr_decay_epochs, c.schedule) == (0.94, 2.0, "step")
    assert (c.ema_decay, c.label_smoothing, c.weight_decay, c.aux_weight, c.drop_rate) == \
        (0.9999, 0.1, 4e-5, 0.4, 0.2)
    assert c.batch_size == 640 and load_preset("paper") == c


def test_set_overrides_convert_types_and_reject_unknown_keys() -> None:
    c = replace(TrainConfig(), parse_overrides(
        ["lr=0.1", "epochs=3", "max_steps=1_000", "channels_last=true", "residual_scale=0.2",
         "amp=bf16"]))
    assert (c.lr, c.epochs, c.max_steps, c.channels_last, c.residual_scale, c.amp) == \
        (0.1, 3.0, 1000, True, 0.2, "bf16")
    assert parse_value("residual_scale", "none") is None
    with pytest.raises(KeyError, match="valid keys: .*batch_size"):
        replace(TrainConfig(), {"learning_rate": "0.1"})
    with pytest.raises(ValueError, match="expects int"):
        replace(TrainConfig(), {"batch_size": "many"})
    with pytest.raises(ValueError, match="expects bool"):
        replace(TrainConfig(), {"compile": "maybe"})
    with pytest.raises(ValueError, match="amp='fp8' is not one of"):
        replace(TrainConfig(), {"amp": "fp8"})
    with pytest.raises(ValueError, match="key=value"):
        parse_overrides(["lr"])


def test_small_preset_loads_and_differs_from_paper() -> None:
    small = load_preset("small")
    assert small.width < 1 and small.image_size <= 128 and small.schedule != "step"
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        load_preset("huge")


def test_checkpoint_round_trip_with_rng_states(tmp_path) -> None:  # noqa: ANN001
    random.seed(3)
    np.random.seed(4)
    torch.manual_seed(5)
    state = {"model": {"w": torch.arange(3.0)}, "rng": run_state.rng_state(), "config": {"a": None}}
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    path = tmp_path / "checkpoints" / "last.pt"
    files.save_atomic(state, path)
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temporary left
    loaded = files.load(path)  # weights_only=True: plain types and tensors only
    run_state.set_rng_state(loaded["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected
    assert torch.equal(loaded["model"]["w"], torch.arange(3.0))


def test_checkpoint_load_refuses_pickled_objects(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "evil.pt"
    torch.save({"obj": _Tiny}, path)
    with pytest.raises(Exception, match="[Ww]eights only"):
        files.load(path)
    with pytest.raises(FileNotFoundError, match="--resume"):
        run_state.find_resume(str(tmp_path / "missing.pt"), tmp_path)
    assert run_state.find_resume("auto", tmp_path) is None


def test_checkpoint_of_an_unknown_format_is_refused_with_the_numbers(tmp_path) -> None:  # noqa: ANN001
    """``format`` is read: a file of a newer format is refused by ``--resume`` (auto and a
    path) and when read as weights, naming its format and the ones this version reads; one
    without the key (format 1) is accepted."""
    path = files.step_path(files.checkpoint_dir(tmp_path), 4)
    files.save_atomic(seal({"format": run_state.FORMAT + 1, "model": {"w": torch.ones(1)},
                            "config": {}}), path)
    wanted = f"format {run_state.FORMAT + 1}; this version of inception-v4 reads formats 1 to"
    for resume in ("auto", str(path)):
        with pytest.raises(ValueError, match=wanted):
            run_state.find_resume(resume, tmp_path)
    with pytest.raises(ValueError, match=wanted):
        read_training_checkpoint(path)
    run_state.check_format({"model": {}}, path)  # an earlier version's file: no key
    with pytest.raises(ValueError, match="format 'x'"):
        run_state.check_format({"format": "x"}, path)


def test_small_preset_cut_to_three_epochs_reaches_its_peak_and_decays() -> None:
    """The small preset's 4 warm-up epochs do not fit a 3-epoch run: the warm-up is clipped
    to 30 % of it (0.9 epochs), said before the run; the rate peaks at 0.2 there and falls
    linearly to 0 at epoch 3 (one-cycle)."""
    from inception_v4.train.schedule import schedule_notes

    config = replace(load_preset("small"), {"epochs": 3})
    rows = [(e, config_learning_rate(config, e)) for e in (0.0, 0.45, 0.9, 1.95, 2.58, 3.0)]
    want = [0.0, 0.1, 0.2, 0.1, 0.04, 0.0]
    assert [lr for _, lr in rows] == pytest.approx(want, abs=1e-12)
    assert schedule_notes(config) == [
        "warm-up of 4 epochs is too long for a 3-epoch run: clipped to 0.9 epochs (30% of the "
        "run), so the learning rate reaches its peak and then decays"]
    assert schedule_notes(load_preset("small")) == []  # 4 of 16 epochs fit


def _splits(config: TrainConfig) -> tuple:
    """The splits with the transforms ``fit`` gives them (the network's data config), each
    as uint8 pixels then the normaliser the run applies on its device."""
    train, val = open_splits(config)
    normalizer = set_transforms(train, val,
                                start_network(config, train.classes, None).record["data_config"])
    assert train.transform(Image.new("RGB", (9, 7))).image.dtype == torch.uint8
    assert val.transform(Image.new("RGB", (9, 7))).dtype == torch.uint8
    return (lambda image: normalizer(train.transform(image)),
            lambda image: normalizer(val.transform(image)))


def test_training_transforms_follow_the_models_preprocessing(tmp_path) -> None:  # noqa: ANN001
    data = str(make_image_folder(tmp_path / "data"))
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (90, 120, 3), np.uint8))
    train, val = _splits(TrainConfig(model="inception_v4", data=data, image_size=80))
    assert torch.equal(val(image), eval_transform(80)(image))  # 0.875, [-1, 1]
    assert train(image).shape == (3, 80, 80)
    train, val = _splits(TrainConfig(model="inception_resnet_v1_facenet", data=data,
                                     image_size=80))
    whole = torch.from_numpy(np.array(image.resize((80, 80), Image.Resampling.BILINEAR)))
    expected = prewhiten(whole.permute(2, 0, 1))  # FaceNet: the whole image, per image
    assert torch.allclose(val(image), expected, atol=1e-5)
    x = train(image)
    assert abs(float(x.mean())) < 1e-5 and abs(float(x.std(correction=0)) - 1) < 1e-4
