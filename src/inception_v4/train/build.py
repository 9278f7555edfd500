"""The parts a run is built of (:func:`inception_v4.train.run.start_run` puts them
together): the data splits, the network (from scratch or from pretrained weights), its
preprocessing, the optimiser, averaging, wrapping."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..data import ImageDataset, create_transform, open_dataset, resolve_data_config
from ..models import Network, network_from_args, optimize_for_training
from . import distributed, finetune
from .config import TrainConfig
from .distributed import Dist
from .ema import ModelEma
from .optim import build_optimizer, step_in_backward


def open_splits(config: TrainConfig) -> tuple[ImageDataset, ImageDataset]:
    """The train and val splits (their transforms are set by :func:`set_transforms`)."""
    train = open_dataset(config.data, "train", seed=config.seed)
    val = open_dataset(config.data, "val", seed=config.seed)
    if train.num_classes < 2:
        raise ValueError(f"{config.data}: the training split has {train.num_classes} class "
                         f"({', '.join(train.classes)}); a classifier needs at least two "
                         f"class folders")
    if train.classes != val.classes:
        raise ValueError(f"{config.data}: train and val have different classes "
                         f"({train.num_classes} vs {val.num_classes})")
    return train, val


def set_transforms(train: ImageDataset, val: ImageDataset, data_config: dict) -> nn.Module:
    """Inception training augmentation and evaluation crop around the network's own input
    (size, interpolation, crop fraction, normalisation: ``data_config``): the datasets get
    the geometric parts (uint8 images; training's with its colour draws, ``data.Pixels``),
    and the normaliser both share is returned, to run on the device (``step.prepare``)."""
    augment = create_transform(data_config, training=True)
    crop = create_transform(data_config, training=False)
    train.transform, val.transform = augment.geometry, crop.geometry
    return augment.normalizer


@dataclass
class Start:
    """What a run starts from: its config (with the network arguments of pretrained weights),
    the network, and what every checkpoint records beside the state (``record``)."""

    config: TrainConfig
    net: Network
    record: dict[str, Any]  # classes, data_config (preprocessing), pretrained (origin)
    notes: list[str]


def start_network(config: TrainConfig, classes: list[str], saved: dict | None) -> Start:
    """The network of a new run (from scratch or ``config.pretrained``), or of a resumed one
    (``saved``: the checkpoint, which holds the weights: ``--pretrained`` is not read)."""
    notes, origin = [], None
    if saved is not None and config.pretrained:
        cfg = saved["config"]
        config = finetune.adopt(config, {k: cfg[k] for k in finetune.ARCH_FIELDS},
                                cfg["image_size"], config.pretrained)
        net, origin = new_network(config, len(classes)), saved.get("pretrained")
        began = f" (it began from {origin['source']}, sha256 {origin['sha256'][:12]})" \
            if origin else ""
        notes.append(f"resuming: --pretrained {config.pretrained} is not read; the checkpoint "
                     f"holds the run's weights{began}")
    elif config.pretrained:
        net = finetune.load(config, classes)
        config = finetune.adopt(config, finetune.architecture(net),
                                net.pretrained_cfg["input_size"][-1], config.pretrained)
        head, note = finetune.fit_head(net, classes, config.seed)
        origin = finetune.origin(config, net, head)
        notes += [f"pretrained: {config.pretrained} ({origin['kind']}) → {config.model}, width "
                  f"{config.width:g}, depth {config.depth:g}, trained at {config.image_size} px",
                  note]
    else:
        net = new_network(config, len(classes))
    cfg = {**net.pretrained_cfg, "input_size": (3, config.image_size, config.image_size)}
    data_config = (saved or {}).get("data_config") or resolve_data_config(cfg)
    record = {"classes": list(classes), "data_config": data_config, "pretrained": origin}
    return Start(config, net, record, notes)


def new_network(config: TrainConfig, num_classes: int) -> Network:
    """The network of ``config``, freshly initialised, seeded by ``seed``."""
    torch.manual_seed(config.seed)
    return network_from_args(config.model, config.model_args(num_classes))


def per_rank_batch(config: TrainConfig, d: Dist) -> int:
    if config.batch_size % d.world:
        raise ValueError(f"--batch-size {config.batch_size} (global) does not split evenly "
                         f"over {d.world} processes; use a multiple of {d.world}")
    return config.batch_size // d.world


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 in hardware: a CPU with AVX512-BF16 or AMX (elsewhere
    oneDNN emulates bf16, slower than float32), a GPU with bf16 units (Ampere and newer)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type != "cpu":
        return False
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def resolve_amp(config: TrainConfig, device: torch.device) -> TrainConfig:
    """``amp="auto"`` made concrete for ``device``: bf16 autocast where it computes bf16
    natively (:func:`native_bf16`), else off; any other setting as given."""
    if config.amp != "auto":
        return config
    return dataclasses.replace(config, amp="bf16" if native_bf16(device) else "off")


def configure_cuda(device: torch.device, deterministic: bool) -> None:
    """On a GPU: deterministic cuDNN and cuBLAS kernels where torch has them (a resumed run
    then equals the uninterrupted one bit for bit; ops without one warn once), or, with
    ``deterministic=False``, ``cudnn.benchmark`` (each shape's fastest convolution, timed on
    first use: faster, not reproducible). Nothing on the CPU, whose kernels are deterministic.
    """
    if device.type != "cuda":
        return
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = deterministic
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # before cuBLAS starts
        torch.use_deterministic_algorithms(True, warn_only=True)


def build_net(config: TrainConfig, num_classes: int, device: torch.device) -> nn.Module:
    """A new network of ``config``, ready to train (:func:`prepare_net`)."""
    return prepare_net(new_network(config, num_classes), config, device)


def prepare_net(net: Network, config: TrainConfig, device: torch.device) -> nn.Module:
    """``net`` set up to train: dropout ``drop_rate``, BN momentum ``bn_momentum``, activation
    recompute, on ``device``, channels-last."""
    net.head.drop.p = net.init_args["drop_rate"] = config.drop_rate
    net.train()
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = config.bn_momentum
    net.set_grad_checkpointing(config.grad_checkpointing)
    net = net.to(device)
    # channels-last: also the cheaper pool-branch order (same parameters, fp32 rounding)
    return optimize_for_training(net) if config.channels_last else net


def build_parts(net: Network, config: TrainConfig, d: Dist
                ) -> tuple[nn.Module, torch.optim.Optimizer, torch.amp.GradScaler,
                           ModelEma | None]:
    """``net`` set up to train (:func:`prepare_net`, sync BN, ``--freeze``), its optimiser,
    grad scaler and parameter average."""
    net = prepare_net(net, config, d.device)
    if config.sync_bn and d.world > 1:
        net = distributed.convert_sync_bn(net, d.device)
    frozen = finetune.freeze(net, config.freeze)
    if frozen and d.main:
        print(frozen, flush=True)
    ema = ModelEma(net, config.ema_decay, config.ema_warmup) if config.ema_decay > 0 else None
    scaler = torch.amp.GradScaler(d.device.type, enabled=config.amp == "fp16")
    optimizer = build_optimizer(net, config)
    if config.step_in_backward:
        if d.world > 1:  # DDP averages gradients after backward; the hooks step before that
            raise ValueError("step_in_backward works in one process only; under torchrun "
                             "drop it (or use grad_checkpointing alone)")
        step_in_backward(optimizer)
    return net, optimizer, scaler, ema


def wrap_model(net: nn.Module, config: TrainConfig, d: Dist) -> nn.Module:
    """``net`` under DDP (several processes) and ``torch.compile`` (``--compile``)."""
    model = distributed.wrap(net, d)
    return torch.compile(model) if config.compile else model
