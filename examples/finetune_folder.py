"""Fine-tune a network on an image folder, then save it for `inception-v4 export` and friends.

    python examples/finetune_folder.py DATA --weights W --out runs/finetuned
    python examples/finetune_folder.py                   # fast: small net, embedded data

DATA is anything ``inception_v4.data.open_dataset`` reads: a folder with ``train/`` and
``val/`` class folders, one tree of class folders (a seeded 10 % is held out for val),
``train.tar`` + ``val.tar``, or ``embedded`` (the default). With ``--weights`` (a folder from
``save_pretrained``, a timm / Cadene state dict, ``timm:NAME``, ...) the network, its
preprocessing and its weights come from W and only the classifier is replaced; without it, a
small (width 0.25, depth 0.2) network is trained from scratch. ``--head-only`` trains the new
classifier alone. The saved folder carries the class names as ``pretrained_cfg["label_names"]``.

This is a plain loop: ``inception_v4.train.fit`` trains the paper's recipe from scratch.
"""

from __future__ import annotations

import argparse
import sys

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset, Subset

import inception_v4
from inception_v4.data import build_loader, create_transform, open_dataset
from inception_v4.weights import load_model


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data", nargs="?", default="embedded", help="image folder, tars or embedded")
    p.add_argument("--weights", help="start from these weights (architecture read from them)")
    p.add_argument("--model", default="inception_v4", help="network when no --weights")
    p.add_argument("--width", type=float, default=0.25, help="width when no --weights")
    p.add_argument("--depth", type=float, default=0.2, help="depth when no --weights")
    p.add_argument("--image-size", type=int, help="default: the weights' own, else 96")
    p.add_argument("--head-only", action="store_true", help="train the classifier only")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--max-steps", type=int, default=60, help="stop after N steps (0: no limit)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, help="default: 0.01 with --weights, else 0.05")
    p.add_argument("--val-images", type=int, default=256, help="evaluate on N (0: all)")
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--out", help="save the fine-tuned network here (save_pretrained folder)")
    return p.parse_args(argv)


def build_model(args: argparse.Namespace, num_classes: int) -> nn.Module:
    """The pretrained network with a new classifier, or a small random-init one."""
    if args.weights is None:
        return inception_v4.create_model(args.model, num_classes=num_classes,
                                         width=args.width, depth=args.depth)
    model = load_model(args.weights)
    model.reset_classifier(num_classes)
    return model


def data_config(model: nn.Module, args: argparse.Namespace) -> dict:
    """The model's preprocessing, at ``--image-size`` when given."""
    cfg = dict(model.pretrained_cfg)
    size = args.image_size or (cfg["input_size"][-1] if args.weights else 96)
    cfg["input_size"] = (3, size, size)
    return cfg


def subset(dataset: Dataset, n: int, seed: int = 0) -> Dataset:
    """A fixed seeded choice of ``n`` items (all when ``n`` is 0 or too large)."""
    if n <= 0 or n >= len(dataset):
        return dataset
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    return Subset(dataset, order[:n].tolist())


def trainable(model: nn.Module, head_only: bool) -> list[nn.Parameter]:
    """The parameters to update; with ``head_only`` everything else is frozen."""
    for name, p in model.named_parameters():
        p.requires_grad = not head_only or name.startswith("head.")
    return [p for p in model.parameters() if p.requires_grad]


AUX_WEIGHT = 0.4  # TF-slim's weight of the auxiliary loss (the training recipe's aux_weight)


def loss_of(output: torch.Tensor | tuple, labels: torch.Tensor, aux_weight: float) -> torch.Tensor:
    if isinstance(output, tuple):  # (logits, aux logits) from a model with the aux head
        return loss_of(output[0], labels, 0) + aux_weight * loss_of(output[1], labels, 0)
    return F.cross_entropy(output, labels, label_smoothing=0.1)


def train(model: nn.Module, loader: torch.utils.data.DataLoader, args: argparse.Namespace
          ) -> list[float]:
    """SGD with Nesterov momentum and a cosine schedule; returns the loss of every step."""
    params = trainable(model, args.head_only)
    steps = args.epochs * len(loader)
    steps = min(steps, args.max_steps) if args.max_steps else steps
    lr = args.lr or (0.01 if args.weights else 0.05)
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=4e-5)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1))
    losses: list[float] = []
    while len(losses) < steps:
        model.train()
        if args.head_only:
            model.eval()  # frozen BatchNorm statistics too
            model.head.train()
        for images, labels, _ in loader:
            if len(labels) == 0 or len(losses) == steps:
                continue
            loss = loss_of(model(images), labels, AUX_WEIGHT)
            opt.zero_grad()
            loss.backward()
            opt.step()
            schedule.step()
            losses.append(loss.item())
            if len(losses) % 10 == 0 or len(losses) == steps:
                print(f"step {len(losses)}/{steps} loss {loss.item():.4f}")
    return losses


@torch.no_grad()
def accuracy(model: nn.Module, loader: torch.utils.data.DataLoader) -> float:
    model.eval()
    right = total = 0
    for images, labels, _ in loader:
        if len(labels):
            right += int((model(images).argmax(1) == labels).sum())
            total += len(labels)
    return right / max(total, 1)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    train_ds = open_dataset(args.data, "train")
    val_ds = open_dataset(args.data, "val")
    model = build_model(args, train_ds.num_classes)
    cfg = data_config(model, args)
    train_ds.transform = create_transform(cfg, training=True)
    val_ds.transform = create_transform(cfg, training=False)
    train_loader = build_loader(train_ds, args.batch_size, shuffle=True, workers=args.workers,
                                drop_last=len(train_ds) > args.batch_size)
    val_loader = build_loader(subset(val_ds, args.val_images), args.batch_size, shuffle=False,
                              workers=args.workers)
    print(f"{len(train_ds)} train / {len(val_ds)} val images, {train_ds.num_classes} classes, "
          f"input {cfg['input_size'][-1]}px, {cfg.get('normalize', 'mean_std')} normalisation")
    before = accuracy(model, val_loader)
    losses = train(model, train_loader, args)
    after = accuracy(model, val_loader)
    print(f"val top-1 accuracy {before:.3f} -> {after:.3f} after {len(losses)} steps")
    if args.out:
        model.pretrained_cfg = {**cfg, "label_names": tuple(train_ds.classes)}
        inception_v4.save_pretrained(model, args.out)
        print(f"saved to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
