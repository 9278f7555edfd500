"""One training step and one evaluation: the arithmetic of the recipe.

Loss: cross-entropy with label smoothing (0.1), plus ``aux_weight`` (0.4) × the auxiliary
head's loss when the model has one. Gradient clipping by global norm (2.0 in the paper
preset: the Inception-v3 paper's threshold; the v4 paper does not mention clipping) acts on
the loss gradient; the optimiser then adds the coupled L2 term.

A non-finite loss is noted on the device (no host sync in the step: on a GPU the step's
kernels stay queued); :func:`check_finite` reads the note, one host read, and raises
:class:`NonFiniteLoss` naming the first bad step and the last good checkpoint. The training
loop calls it at every log line and before every checkpoint, so no checkpoint ever holds
weights updated from a non-finite loss.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from ..data.normalize import Pixels
from ..evaluate.metrics import topk_correct
from ..evaluate.progress import progress
from . import distributed
from .config import TrainConfig
from .distributed import Dist
from .schedule import config_learning_rate

if TYPE_CHECKING:
    from .run import Run


class NonFiniteLoss(FloatingPointError):
    """The loss became NaN or infinite at ``step`` (1-based); the message also names the last
    good checkpoint."""

    def __init__(self, message: str, step: int) -> None:
        super().__init__(message)
        self.step = step


def autocast(device: torch.device, amp: str) -> torch.autocast:
    dtype = torch.float16 if amp == "fp16" else torch.bfloat16
    return torch.autocast(device.type, dtype=dtype, enabled=amp != "off")


def compute_loss(output: torch.Tensor | tuple, labels: torch.Tensor,
                 config: TrainConfig) -> torch.Tensor:
    """Smoothed cross-entropy; plus ``aux_weight`` × the auxiliary loss for ``(logits, aux)``."""
    if isinstance(output, tuple):
        logits, aux = output
        return (F.cross_entropy(logits, labels, label_smoothing=config.label_smoothing)
                + config.aux_weight * F.cross_entropy(aux, labels,
                                                      label_smoothing=config.label_smoothing))
    return F.cross_entropy(output, labels, label_smoothing=config.label_smoothing)


def step_seed(seed: int, rank: int, step: int) -> int:
    """Dropout's seed at ``step``: a run resumed at any step draws the same masks."""
    return ((seed * 7919 + rank) * 1_000_003 + step) % (2**63)


def prepare(images: torch.Tensor | Pixels, d: Dist, channels_last: bool,
            normalizer: nn.Module | None = None) -> torch.Tensor:
    """A loader's batch as the network's input on ``d.device``: the uint8 batch (with its
    colour draws, :class:`~inception_v4.data.normalize.Pixels`) is copied (asynchronously
    from pinned memory) and normalised there, in channels-last order when asked.
    ``normalizer`` None: the batch is already the float input (copied, reordered)."""
    x = images.to(d.device, non_blocking=True)
    if normalizer is not None:
        return normalizer(x, channels_last=channels_last)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def train_step(run: Run, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """One optimiser step on one batch at the schedule's learning rate; returns the
    (rank-averaged) loss, detached."""
    cfg, d = run.config, run.dist
    lr = config_learning_rate(cfg, run.fractional_epoch)
    for group in run.optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)  # layer-wise decay (optim.py)
    torch.manual_seed(step_seed(cfg.seed, d.rank, run.step))
    x = prepare(images, d, cfg.channels_last, run.normalizer)
    y = labels.to(d.device, non_blocking=True)
    with autocast(d.device, cfg.amp):
        loss = compute_loss(run.wrapped(x), y, cfg)
    value = _mean_over_ranks(loss.detach().float(), d)
    note_nonfinite(run, value)
    if cfg.step_in_backward:
        loss.backward()  # optim.step_in_backward's hooks update the weights as it goes
    else:
        _backward_and_step(run, loss)
    if run.ema is not None:
        run.ema.update(run.net)
    run.step += 1
    return value


def note_nonfinite(run: Run, value: torch.Tensor) -> None:
    """Keep ``[step, loss]`` of the first non-finite loss in ``run.nonfinite``, on the
    loss's device, without waiting for it."""
    if run.nonfinite is None:
        run.nonfinite = torch.tensor([-1.0, 0.0], dtype=torch.float64, device=value.device)
    here = torch.stack([torch.full_like(value, run.step + 1, dtype=torch.float64),
                        value.double()])
    first = (run.nonfinite[0] < 0) & ~torch.isfinite(value)
    run.nonfinite = torch.where(first, here, run.nonfinite)


def check_finite(run: Run) -> None:
    """Raise :class:`NonFiniteLoss` if a loss so far was NaN or infinite (one host read)."""
    if run.nonfinite is None:
        return
    step, value = run.nonfinite.tolist()
    if step < 0:
        return
    where = (f"{run.last_checkpoint} (after step {run.checkpoint_step})"
             if run.last_checkpoint else "none written yet")
    raise NonFiniteLoss(f"non-finite loss ({value}) at step {int(step)} (epoch "
                        f"{int(step - 1) // run.steps_per_epoch + 1}); stopped at step "
                        f"{run.step} before writing a checkpoint. Last good checkpoint: {where}",
                        step=int(step))


def _backward_and_step(run: Run, loss: torch.Tensor) -> None:
    run.scaler.scale(loss).backward()
    if run.config.clip_grad_norm > 0:
        run.scaler.unscale_(run.optimizer)
        nn.utils.clip_grad_norm_(run.net.parameters(), run.config.clip_grad_norm)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    run.optimizer.zero_grad(set_to_none=True)


def _mean_over_ranks(value: torch.Tensor, d: Dist) -> torch.Tensor:
    if d.world == 1:
        return value
    value = value.clone()
    torch.distributed.all_reduce(value)
    return value / d.world


@torch.no_grad()
def validate(net: nn.Module, loader: torch.utils.data.DataLoader, d: Dist, amp: str = "off",
             channels_last: bool = False, label: str = "",
             normalizer: nn.Module | None = None) -> dict[str, float]:
    """Top-1/top-5 error (fractions) over the loader, summed over ranks, with the tie rule of
    :func:`inception_v4.evaluate.metrics.topk_correct`; and the fraction of exact zeros in
    ``forward_features`` (the last activation before the average pool: the paper's §3.3
    "died" signal). ``label``: a progress bar with that name on rank 0's terminal;
    ``normalizer``: as :func:`prepare`'s."""
    was_training = net.training
    net.eval()
    counts = torch.zeros(5, dtype=torch.float64, device=d.device)  # top1, top5, n, zeros, all
    for images, labels, _ in progress(loader, label, "batch", quiet=not (label and d.main)):
        if len(labels) == 0:
            continue
        y = labels.to(d.device)
        with autocast(d.device, amp):
            feats = net.forward_features(prepare(images, d, channels_last, normalizer))
            logits = net.forward_head(feats)
        counts[0] += topk_correct(logits.float(), y, 1).sum()
        counts[1] += topk_correct(logits.float(), y, min(5, logits.shape[1])).sum()
        counts[2] += len(y)
        counts[3] += (feats == 0).sum()
        counts[4] += feats.numel()
    net.train(was_training)
    c1, c5, n, zeros, total = distributed.all_sum(counts.tolist(), d)
    if n == 0:
        raise ValueError("the validation split has no readable images; nothing to evaluate")
    return {"top1_err": 1.0 - c1 / n, "top5_err": 1.0 - c5 / n, "dead_fraction": zeros / total,
            "images": int(n)}
