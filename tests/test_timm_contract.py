"""timm's model contract, for all five networks, checked with timm and torchvision themselves.

The contract points and the tests covering them are listed in docs/timm-contract.md.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from PIL import Image
from torch import nn

import inception_v4
from inception_v4 import timm_compat
from inception_v4.models import list_models

timm = pytest.importorskip("timm")
from timm.data import create_transform, resolve_data_config  # noqa: E402
from timm.models._features import FeatureGetterNet  # noqa: E402
from timm.optim import create_optimizer_v2  # noqa: E402

TINY = {"width": 0.25, "depth": 0.2}
NAMES = list_models()
SIZE = 75  # input side for the forward checks (>= 75, the smallest the networks take)
CFG_KEYS = ("input_size", "pool_size", "crop_pct", "interpolation", "mean", "std",
            "first_conv", "classifier", "num_classes")


@pytest.fixture(scope="module", autouse=True)
def _registered() -> None:
    timm_compat.register()


def _both(name: str, **kwargs) -> list[nn.Module]:
    """The network from our create_model and from timm.create_model, in eval mode."""
    ours = inception_v4.create_model(name, **TINY, **kwargs)
    theirs = timm.create_model(timm_compat.PREFIX + name, **TINY, **kwargs)
    return [ours.eval(), theirs.eval()]


def _x(batch: int = 1, size: int = SIZE) -> torch.Tensor:
    return torch.randn(batch, 3, size, size)


@pytest.mark.parametrize("name", NAMES)
def test_contract_attributes_and_cfg_match_the_model(name):
    with torch.device("meta"):  # shapes at the full input size without computing
        models = _both(name)
    for model in models:
        cfg = model.pretrained_cfg
        assert model.default_cfg is cfg and all(k in cfg for k in CFG_KEYS)
        feats = model.forward_features(torch.empty(1, *cfg["input_size"], device="meta"))
        pre = model.forward_head(feats, pre_logits=True)
        assert feats.shape[1:] == (model.num_features, *cfg["pool_size"])
        assert pre.shape == (1, model.head_hidden_size) and model.head_hidden_size == feats.shape[1]
        state = model.state_dict()
        assert next(iter(state)) == cfg["first_conv"] + ".weight"  # the first conv, in order
        conv = model.get_submodule(cfg["first_conv"])
        assert isinstance(conv, nn.Conv2d) and conv.in_channels == model.in_chans
        assert model.get_classifier() is model.get_submodule(cfg["classifier"])
        assert state[cfg["classifier"] + ".weight"].shape[0] == model.num_classes
        assert cfg["num_classes"] == model.num_classes


@pytest.mark.parametrize("name", NAMES)
def test_num_classes_0_and_global_pool_unpooled_through_timm(name):
    model = timm.create_model(timm_compat.PREFIX + name, num_classes=0, global_pool="", **TINY)
    model.eval()
    x = _x()
    with torch.no_grad():
        feats = model.forward_features(x)
        torch.testing.assert_close(model(x), feats)  # N × C × H × W, no pool, no classifier
        torch.testing.assert_close(model.forward_head(feats, pre_logits=True), feats)
        assert model.num_classes == 0 and isinstance(model.get_classifier(), nn.Identity)
        model.reset_classifier(5, "avg")
        assert model.forward_head(feats).shape == (1, 5)
        assert not model.head.training  # the new head follows the model's eval()
        model.reset_classifier(0)
        assert model.forward_head(feats).shape == (1, model.num_features)
        model.reset_classifier(0, "")
        assert model.forward_head(feats).dim() == 4 and model.pretrained_cfg["num_classes"] == 0
    with pytest.raises(ValueError, match="needs num_classes=0"):
        model.reset_classifier(5)  # pooling stays '' and a linear layer needs pooled features
    with pytest.raises(ValueError, match="global_pool must be"):
        model.reset_classifier(5, "max")


def test_pretrained_with_another_head_keeps_the_loaded_body(tmp_path):
    saved = inception_v4.create_model("inception_resnet_v1", num_classes=5, **TINY)
    inception_v4.save_pretrained(saved, tmp_path / "w")
    want = saved.state_dict()
    overlay = {"file": str(tmp_path / "w")}  # timm's pretrained_cfg_overlay / --pretrained-path
    for head in ({"num_classes": 0, "global_pool": ""}, {"num_classes": 7}, {}):
        model = timm.create_model("iv4_inception_resnet_v1", pretrained=True, **TINY, **head,
                                  pretrained_cfg_overlay=overlay)
        state = model.state_dict()
        assert all(torch.equal(v, want[k]) for k, v in state.items() if not k.startswith("head."))
        assert model.num_classes == head.get("num_classes", 5)  # as in timm: a new head
        assert model.head.global_pool == head.get("global_pool", "avg")
    assert torch.equal(state["head.fc.weight"], want["head.fc.weight"])  # the same: kept


def test_timm_optimizer_factory_groups_by_group_matcher_with_layer_decay():
    model = timm.create_model("iv4_inception_resnet_v2", num_classes=5, **TINY)
    assert model.no_weight_decay() == set()
    opt = create_optimizer_v2(model, "rmsproptf", lr=0.1, weight_decay=4e-5, layer_decay=0.8)
    scale = {id(p): g["lr_scale"] for g in opt.param_groups for p in g["params"]}
    decay = {id(p): g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    params = dict(model.named_parameters())
    assert len(scale) == len(params)  # every parameter in exactly one group
    blocks = sum(len(s) for s in model.stages)
    assert len(set(scale.values())) == blocks + 2  # the stem, each block, the head
    assert scale[id(params["head.fc.weight"])] == 1.0
    assert scale[id(params["stem.conv1a.conv.weight"])] == pytest.approx(0.8 ** (blocks + 1))
    first, last = params["stages.0.0.branches.0.conv.weight"], params["stages.7.0.conv.weight"]
    assert scale[id(first)] < scale[id(last)] < 1.0
    assert {decay[id(p)] for p in params.values() if p.ndim <= 1} == {0.0}  # BN, biases
    coarse = timm.models.group_parameters(model, model.group_matcher(coarse=True))
    assert len(coarse) == len(model.stages) + 2


def test_forward_intermediates_and_prune_like_timms_feature_getter():
    model = inception_v4.create_model("inception_v4", **TINY).eval()
    x = _x()
    with torch.no_grad():
        last, maps = model.forward_intermediates(x)
        torch.testing.assert_close(model.forward_head(last), model(x))
        assert [m.shape[1] for m in maps] == model.feature_info.channels()
        two = model.forward_intermediates(x, indices=2, intermediates_only=True)
        assert [m.shape for m in two] == [m.shape for m in maps[3:]]
        end, early = model.forward_intermediates(x, indices=[0, -4], stop_early=True)
        torch.testing.assert_close(end, maps[1])
        getter = FeatureGetterNet(model, out_indices=(1, 2))  # prunes the model
        got = getter(x)
        assert len(model.stages) < len(model.spec.stages) - 1
        assert model.num_features == maps[2].shape[1]
        for a, b in zip(got, maps[1:3], strict=True):
            torch.testing.assert_close(a, b)
        torch.testing.assert_close(model(x), maps[2])  # pruned: no pool, no classifier
    with pytest.raises(ValueError, match="output_fmt"):
        model.forward_intermediates(x, output_fmt="NHWC")
    with pytest.raises(ValueError, match="indices"):
        model.forward_intermediates(x, indices=[5])


def test_prune_to_a_stem_tap_keeps_its_maps():
    model = inception_v4.create_model("inception_resnet_v2", **TINY).eval()
    x = _x(1)
    with torch.no_grad():
        want = model.forward_intermediates(x, indices=[0, 1], intermediates_only=True)
        assert model.prune_intermediate_layers([0, 1]) == [0, 1]
        got = model.forward_intermediates(x, indices=[0, 1], intermediates_only=True)
    assert len(model.stages) == 0 and model.aux_head is None
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.filterwarnings("ignore:NOTE:UserWarning")  # torchvision: train graph has more
@pytest.mark.parametrize("name", NAMES)
def test_fx_trace_and_torchvision_feature_extractor(name):
    from torchvision.models.feature_extraction import (
        create_feature_extractor,
        get_graph_node_names,
    )

    model = inception_v4.create_model(name, aux_logits=True, num_classes=7, **TINY).eval()
    x, taps = _x(2), model.feature_info.module_name()
    graph = torch.fx.symbolic_trace(model)
    extractor = create_feature_extractor(model, return_nodes=taps)
    with torch.no_grad():
        last, want = model.forward_intermediates(x)
        torch.testing.assert_close(graph(x), model.forward_head(last))
        maps = extractor(x)
    assert [maps[t].shape[1] for t in taps] == model.feature_info.channels()
    for t, m in zip(taps, want, strict=True):
        torch.testing.assert_close(maps[t], m)
    train_nodes, eval_nodes = get_graph_node_names(model)
    assert all(any(n.startswith(t + ".") for n in eval_nodes) for t in taps)
    train_graph = torch.fx.symbolic_trace(model.train())  # the training graph: aux head
    out = train_graph(x)
    if model.aux_head is not None:
        assert isinstance(out, tuple) and [o.shape for o in out] == [(2, 7), (2, 7)]
        assert any(n.startswith("aux_head.") for n in train_nodes)
    with pytest.raises(ValueError, match="at least 75"):  # the input check runs in the graph
        graph(torch.randn(1, 3, 60, 60))
    scripted = torch.jit.script(extractor.eval())  # FX, then TorchScript (timm's test)
    with torch.no_grad():
        got, maps = scripted(x), extractor(x)  # (the training pass moved BN's statistics)
    for t in taps:
        torch.testing.assert_close(got[t], maps[t])


@pytest.mark.parametrize("name", NAMES)
def test_torchscript_of_the_eval_model(name):
    model = inception_v4.create_model(name, **TINY).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script is deprecated
        scripted = torch.jit.script(model)
    x = _x()
    with torch.no_grad():
        want = model(x)
        torch.testing.assert_close(scripted(x), want)
        feats = scripted.forward_features(x)
        torch.testing.assert_close(scripted.forward_head(feats), want)
    with pytest.raises(torch.jit.Error, match="H and W at least min_input_size"):
        scripted(torch.randn(1, 3, 60, 60))  # the shape check, as a TorchScript assert


def test_torch_compile_fullgraph_without_graph_breaks():
    model = inception_v4.create_model("inception_resnet_v1", num_classes=3, **TINY).eval()
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, backend="eager")  # a graph break raises
    x = torch.randn(1, 3, 75, 75)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x))
    # fullgraph cannot raise inside the graph: the check's message comes wrapped by dynamo
    with pytest.raises(RuntimeError, match="at least 75"):
        compiled(torch.randn(1, 3, 60, 60))
    torch._dynamo.reset()


@pytest.mark.parametrize("name", ["inception_v4", "inception_resnet_v1_facenet"])
def test_timm_data_config_and_transform_feed_the_model(name):
    model = timm.create_model(timm_compat.PREFIX + name, **TINY).eval()
    config = resolve_data_config(model=model)
    side = model.pretrained_cfg["input_size"][-1]
    assert config["input_size"] == (3, side, side) and config["crop_pct"] == model.pretrained_cfg[
        "crop_pct"]
    transform = create_transform(**config)  # timm's evaluation transform
    image = Image.fromarray(torch.randint(0, 256, (240, 320, 3), dtype=torch.uint8).numpy())
    batch = transform(image)[None]
    assert batch.shape == (1, 3, side, side) and -1.0 <= batch.min() and batch.max() <= 1.0
    with torch.no_grad():
        assert model(batch).shape == (1, model.num_classes)


def test_a_few_steps_with_timms_training_loop_pieces():
    from timm.data import Mixup
    from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy
    from timm.scheduler import create_scheduler_v2
    from timm.utils import ModelEmaV3

    model = timm.create_model("iv4_inception_resnet_v1", num_classes=4, drop_rate=0.2, **TINY)
    opt = create_optimizer_v2(model, "rmsproptf", lr=0.01, weight_decay=4e-5, eps=1.0,
                              momentum=0.9)
    sched, epochs = create_scheduler_v2(opt, "step", num_epochs=2, decay_epochs=1,
                                        decay_rate=0.94)
    model.set_grad_checkpointing(True)  # timm train.py's --grad-checkpointing
    ema = ModelEmaV3(model, decay=0.5)
    mixup = Mixup(mixup_alpha=0.2, num_classes=4, label_smoothing=0.1)
    losses = {"smooth": LabelSmoothingCrossEntropy(0.1), "soft": SoftTargetCrossEntropy()}
    start = [p.detach().clone() for p in model.parameters()]
    x, y = torch.randn(4, 3, 75, 75), torch.tensor([0, 1, 2, 3])
    assert epochs == len(losses)
    for epoch, (kind, loss_fn) in enumerate(losses.items()):  # one step per "epoch"
        model.train()
        inputs, target = mixup(x.clone(), y) if kind == "soft" else (x, y)
        loss = loss_fn(model(inputs), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        ema.update(model)
        assert torch.isfinite(loss)
        sched.step(epoch + 1)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.01 * 0.94 ** epochs)
    assert all(not torch.equal(a, b) for a, b in zip(start, model.parameters(), strict=True)
               if a.ndim > 1)
    ema_model = ema.module.eval()
    with torch.no_grad():
        assert ema_model(x).shape == (4, 4)
        assert not torch.equal(ema_model.head.fc.weight, model.head.fc.weight)
