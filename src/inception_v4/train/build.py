"""Building a run: the data splits, the network, the optimiser, averaging, wrapping."""

from __future__ import annotations

import os

import torch
from torch import nn

from ..data import ImageDataset, create_transform, open_dataset
from ..models import default_cfg, network_from_args, optimize_for_training
from . import distributed
from .config import TrainConfig
from .distributed import Dist
from .ema import ModelEma
from .loop import Run
from .optim import build_optimizer, step_in_backward


def open_splits(config: TrainConfig) -> tuple[ImageDataset, ImageDataset]:
    """The train and val splits with the model's preprocessing (its ``pretrained_cfg``:
    crop, filter, normalisation) at ``config.image_size``."""
    train = open_dataset(config.data, "train", seed=config.seed)
    val = open_dataset(config.data, "val", seed=config.seed)
    size = config.image_size
    cfg = {**default_cfg(config.model), "input_size": (3, size, size)}
    train.transform = create_transform(cfg, training=True)
    val.transform = create_transform(cfg)
    if train.classes != val.classes:
        raise ValueError(f"{config.data}: train and val have different classes "
                         f"({train.num_classes} vs {val.num_classes})")
    return train, val


def per_rank_batch(config: TrainConfig, d: Dist) -> int:
    if config.batch_size % d.world:
        raise ValueError(f"--batch-size {config.batch_size} (global) does not split evenly "
                         f"over {d.world} processes; use a multiple of {d.world}")
    return config.batch_size // d.world


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
    """The network of ``config`` with BN momentum ``bn_momentum``, seeded by ``seed``."""
    torch.manual_seed(config.seed)
    net = network_from_args(config.model, config.model_args(num_classes))
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = config.bn_momentum
    net.set_grad_checkpointing(config.grad_checkpointing)
    net = net.to(device)
    # channels-last: also the cheaper pool-branch order (same parameters, fp32 rounding)
    return optimize_for_training(net) if config.channels_last else net


def build_run(config: TrainConfig, d: Dist, num_classes: int, steps_per_epoch: int) -> Run:
    net = build_net(config, num_classes, d.device)
    if config.sync_bn and d.world > 1:
        net = distributed.convert_sync_bn(net, d.device)
    ema = ModelEma(net, config.ema_decay, config.ema_warmup) if config.ema_decay > 0 else None
    scaler = torch.amp.GradScaler(d.device.type, enabled=config.amp == "fp16")
    optimizer = build_optimizer(net, config)
    if config.step_in_backward:
        if d.world > 1:  # DDP averages gradients after backward; the hooks step before that
            raise ValueError("step_in_backward works in one process only; under torchrun "
                             "drop it (or use grad_checkpointing alone)")
        step_in_backward(optimizer)
    return Run(config, d, net, net, optimizer, scaler, ema, steps_per_epoch)


def wrap_model(net: nn.Module, config: TrainConfig, d: Dist) -> nn.Module:
    model = distributed.wrap(net, d)
    return torch.compile(model) if config.compile else model
