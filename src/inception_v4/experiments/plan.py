"""What each experiment trains: arms (settings that differ), seeds, and the shared recipe.

Residual (Figs. 21-26, the claim "residual connections make Inception train much faster"):
  * Inception-ResNet-v2 against the same network with its identity paths removed
    (``residual=False``: each block outputs its projection alone, so the cost is identical);
  * Inception-v4 against Inception-ResNet-v2, the paper's own pairing, at one reduced width.
Scaling (§3.3, Fig. 20, the claim "wide residual networks die unless the residuals are scaled"):
  a residual network whose blocks have over 1000 filters, at each residual scale, at the
  recipe's learning rate and at a higher one.

Every arm of an experiment uses the same seeds, the same data order (the sampler is seeded
by the run seed) and the same recipe; only the arm's own fields differ.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from ..train.config import TrainConfig, load_preset, replace


@dataclass(frozen=True)
class Arm:
    """One setting of an experiment: a label and the config fields it sets."""

    label: str
    fields: dict


@dataclass(frozen=True)
class Plan:
    """The runs of one experiment: every arm × every seed, on one base recipe."""

    kind: str  # "residual" | "scaling"
    base: TrainConfig
    arms: tuple[Arm, ...]
    seeds: tuple[int, ...]
    pairs: tuple[tuple[str, str], ...] = ()  # (residual arm, comparison arm) labels

    def config(self, arm: Arm, seed: int, out: Path) -> TrainConfig:
        """The full config of one run, writing into ``out/runs/<arm>/seed<seed>``."""
        run_dir = out / "runs" / slug(arm.label) / f"seed{seed}"
        return replace(dataclasses.replace(self.base, out=str(run_dir), seed=seed), arm.fields)

    def runs(self, out: Path) -> list[tuple[Arm, int, TrainConfig]]:
        return [(a, s, self.config(a, s, out)) for s in self.seeds for a in self.arms]


def slug(label: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in label.lower()).strip("_")


# Small scale: ~60 minutes per experiment on 2 CPU cores with imagenette-96.
SMALL = {"width": 0.25, "depth": 0.2, "image_size": 96, "eval_max_images": 1000,
         "batch_size": 64, "workers": 2}
# Full scale: the paper's settings; run under torchrun on GPU machines.
FULL = {"width": 1.0, "depth": 1.0, "image_size": 299, "eval_max_images": 0}


def residual_plan(data: str, scale: str, seeds: int, epochs: float | None = None) -> Plan:
    """Inception-ResNet-v2 with and without identity paths; Inception-v4 against IR-v2.

    Small scale trains with the ``small`` preset's recipe (the paper's would need far more
    steps than 2 CPU cores give in an hour); full scale with the paper's.
    """
    base = _base(data, scale, epochs, "small" if scale == "small" else "paper")
    arms = (
        Arm("Inception-ResNet-v2", {"model": "inception_resnet_v2"}),
        Arm("Inception-ResNet-v2 without residuals",
            {"model": "inception_resnet_v2", "residual": False}),
        Arm("Inception-v4", {"model": "inception_v4"}),
    )
    pairs = (("Inception-ResNet-v2", "Inception-ResNet-v2 without residuals"),
             ("Inception-ResNet-v2", "Inception-v4"))
    return Plan("residual", base, arms, tuple(range(seeds)), pairs)


def scaling_plan(data: str, scale: str, seeds: int, width: float | None,
                 scales: tuple[float, ...], lr_factor: float = 4.0,
                 epochs: float | None = None) -> Plan:
    """A wide Inception-ResNet-v2 (blocks over 1000 filters) at each residual scale, at the
    recipe's learning rate and at ``lr_factor`` times it.

    Both scales use the paper's optimizer and schedule (TF RMSProp, ε 1.0, 0.94 every two
    epochs): the instability is a claim about that recipe. Width 1.0 gives 1088 / 2080 filters
    in the B / C blocks; the CPU default, width 0.5 and depth 0.1, keeps the 8×8 blocks over
    1000 filters (1040) at a cost 2 CPU cores can train in minutes. At small scale each run
    trains one epoch (24 runs: 33 minutes measured on 2 cores), evaluated every 30 steps.
    """
    small = scale == "small"
    base = _base(data, scale, epochs or (1.0 if small else None), "paper")
    if small:
        # Deviation: the paper's lr 0.045 as printed, at our batch of 64. Scaled linearly
        # from its batch of 640 it would be 0.0045, at which one epoch leaves the network
        # near chance (89 % top-1 error measured), too early to say anything about dying.
        base = dataclasses.replace(base, eval_every_steps=30, reference_batch=base.batch_size)
    default_width = 0.5 if scale == "small" else 1.0
    wide = {"model": "inception_resnet_v2", "width": width or default_width,
            "depth": 0.1 if scale == "small" else 1.0}
    arms = tuple(
        Arm(f"scale {s:g}, lr x{f:g}", {**wide, "residual_scale": s, "lr": base.lr * f})
        for f in (1.0, lr_factor) for s in scales)
    return Plan("scaling", base, arms, tuple(range(seeds)))


def _base(data: str, scale: str, epochs: float | None, preset: str) -> TrainConfig:
    if scale not in ("small", "full"):
        raise ValueError(f"--scale must be small or full, got {scale!r}")
    fields = dict(SMALL if scale == "small" else FULL)
    fields.update({"data": data, "resume": "auto", "checkpoint_every": 0})
    if scale == "small":
        # Evaluations often enough to draw curves; the schedule stays the preset's.
        fields.update({"epochs": epochs or 3.0, "eval_every_steps": 50, "log_every": 10})
    elif epochs:
        fields["epochs"] = epochs
    return replace(load_preset(preset), fields)
