"""The training configuration: one frozen dataclass whose defaults are the paper's recipe.

Sources: the paper (§4: RMSProp decay 0.9, ε 1.0, lr 0.045 × 0.94 every two epochs, 20
replicas, evaluation on a running average of the parameters) and, for what the paper leaves
out, the original Inception training code (``docs/recipe.md``, "Sources":
momentum 0.9, averaging decay 0.9999, label smoothing 0.1, weight decay 4e-5, aux loss 0.4,
batch 32 per replica, BN decay 0.9997). Presets are small TOML files in
``inception_v4/presets``; ``--set key=value`` overrides any field.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

from ..models import MIN_INPUT_SIZE, ModelArgs

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

AMP_CHOICES = ("off", "bf16", "fp16", "auto")
PAPER_BATCH = 32 * 20  # 32 images per replica (inc-train) × 20 replicas (paper §4)


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run depends on. Defaults: the paper recipe (see module docstring)."""

    # what to train, on what, where to write; width .. drop_rate are ModelArgs fields
    model: str = "inception_v4"
    data: str = "embedded"
    # start from weights (anything resolve_model reads): the network (model "": the weights'),
    # its arguments and preprocessing come from them; width/depth/... other than the default
    # must agree with them (train/finetune.py)
    pretrained: str = ""              # "": from scratch
    pretrained_ema: bool = False      # --pretrained RUN: its averaged weights
    freeze: str = "none"              # none | features | stages:N (stem + first N stages)
    layer_decay: float = 1.0          # lr × layer_decay^(depth from the head); 1.0: off
    out: str = "runs/train"
    width: float = 1.0
    depth: float = 1.0
    residual_scale: float | None = None
    residual: bool = True             # False: identity paths removed (the plain twin)
    aux_logits: bool = False          # the paper draws no auxiliary head; slim has one
    drop_rate: float = 0.2            # "Dropout (keep 0.8)", Figs. 9 and 15
    image_size: int = 299
    bn_momentum: float = 0.0003       # TF BN decay 0.9997 (inc-train / slim arg scope)
    # how long (the paper does not state a number of epochs; 160 is our choice)
    epochs: float = 160.0
    max_steps: int = 0                # 0: no limit; stops early without changing the schedule
    max_minutes: float = 0.0          # 0: no limit; training wall time
    batch_size: int = PAPER_BATCH     # global, split across ranks
    # optimiser and schedule
    optimizer: str = "rmsprop_tf"     # rmsprop_tf | sgd
    lr: float = 0.045                 # at reference_batch; scaled linearly with batch_size
    reference_batch: int = PAPER_BATCH
    schedule: str = "step"            # step | cosine | onecycle
    lr_decay: float = 0.94
    lr_decay_epochs: float = 2.0
    warmup_epochs: float = 0.0
    momentum: float = 0.9
    nesterov: bool = False            # SGD only
    rmsprop_decay: float = 0.9
    rmsprop_eps: float = 1.0
    weight_decay: float = 4e-5        # coupled L2 on conv/FC weights only
    clip_grad_norm: float = 2.0       # global norm; 0: off (Inception-v3 paper's threshold)
    # loss and averaging
    label_smoothing: float = 0.1
    aux_weight: float = 0.4
    ema_decay: float = 0.9999         # 0: off
    ema_warmup: bool = True           # TF num_updates: min(decay, (1+t)/(10+t))
    # evaluation
    eval_every_steps: int = 0         # 0: at epoch ends (and at the end) only
    eval_max_images: int = 0          # 0: the whole val split; else a fixed seeded subset
    # machinery
    seed: int = 0
    workers: int = 4
    device: str = "auto"              # auto | cpu | cuda | cuda:N
    amp: str = "off"                  # off | bf16 | fp16 | auto (bf16 where native, else off)
    channels_last: bool = False
    compile: bool = False
    deterministic: bool = True        # GPU: deterministic kernels, exact resume; false: faster
    sync_bn: bool = False
    grad_checkpointing: bool = False  # Network.set_grad_checkpointing: memory for compute
    step_in_backward: bool = False    # optim.step_in_backward: no step() after backward
    resume: str = "auto"              # auto | never | PATH
    checkpoint_every: int = 1000      # steps; 0: at epoch ends only
    checkpoint_minutes: float = 10.0  # also every this many minutes of training; 0: off
    keep_checkpoints: int = 2         # step files kept (the newest K); damaged ones fall back
    allow_batch_change: bool = False  # resume with another global batch_size (not exact)
    log_every: int = 50

    def __post_init__(self) -> None:
        _check_choice("optimizer", self.optimizer, ("rmsprop_tf", "sgd"))
        _check_choice("schedule", self.schedule, ("step", "cosine", "onecycle"))
        _check_choice("amp", self.amp, AMP_CHOICES)
        check_freeze(self.freeze)
        if not self.model and not self.pretrained:
            raise ValueError("model='' (the network of the weights) needs pretrained=SOURCE; "
                             "name a network (--model) or pass --pretrained")
        for name in ("batch_size", "reference_batch", "image_size", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.epochs <= 0:
            raise ValueError(f"epochs must be positive, got {self.epochs}")
        _check_ranges(self)
        self.model_args(num_classes=None)  # width, depth, ...: the network's own checks
        if self.step_in_backward and (self.clip_grad_norm > 0 or self.amp == "fp16"):
            raise ValueError("step_in_backward updates each weight before the other gradients "
                             "exist, so it cannot clip by global norm or unscale fp16 "
                             "gradients; set clip_grad_norm=0 and amp to off or bf16")

    def model_args(self, num_classes: int | None) -> ModelArgs:
        """The network's constructor arguments: the fields this config sets, the rest
        ``ModelArgs``' defaults, and ``num_classes`` (the data's)."""
        return ModelArgs.pick({**to_dict(self), "num_classes": num_classes})


# field → (lowest, highest, whether the lowest itself is allowed); NaN and inf never are.
_RANGES = {
    "lr": (0.0, math.inf, False),
    "label_smoothing": (0.0, 0.999999, True), "ema_decay": (0.0, 0.999999, True),
    "momentum": (0.0, 1.0, True), "rmsprop_decay": (0.0, 1.0, True),
    "rmsprop_eps": (0.0, math.inf, False), "lr_decay": (0.0, math.inf, False),
    "lr_decay_epochs": (0.0, math.inf, False), "weight_decay": (0.0, math.inf, True),
    "clip_grad_norm": (0.0, math.inf, True), "aux_weight": (0.0, math.inf, True),
    "warmup_epochs": (0.0, math.inf, True), "max_steps": (0, math.inf, True),
    "max_minutes": (0.0, math.inf, True), "eval_every_steps": (0, math.inf, True),
    "eval_max_images": (0, math.inf, True), "workers": (0, math.inf, True),
    "checkpoint_every": (0, math.inf, True), "checkpoint_minutes": (0.0, math.inf, True),
    "bn_momentum": (0.0, 1.0, True), "keep_checkpoints": (1, math.inf, True),
    "layer_decay": (0.0, 1.0, False),
}


def _check_ranges(config: TrainConfig) -> None:
    """Each numeric field within its range, naming the field when it is not."""
    for name, (low, high, low_ok) in _RANGES.items():
        value = getattr(config, name)
        if not (math.isfinite(value) and (low < value or (low_ok and value == low))
                and value <= high):
            side = ">=" if low_ok else ">"
            raise ValueError(f"{name} must be finite and {side} {low:g}" + (f" and <= {high:g}" if
                             math.isfinite(high) else "") + f", got {value!r}")
    if config.image_size < MIN_INPUT_SIZE:
        raise ValueError(f"image_size must be at least {MIN_INPUT_SIZE} (the networks' smallest "
                         f"input), got {config.image_size}")


def check_freeze(freeze: str) -> int | None:
    """``none`` → None, ``features`` → -1, ``stages:N`` → N; ValueError for anything else."""
    if freeze in ("none", "features"):
        return None if freeze == "none" else -1
    kind, _, count = freeze.partition(":")
    if kind != "stages" or not count.isdigit():
        raise ValueError(f"freeze={freeze!r} is not one of none, features, stages:N (N: how "
                         f"many stages after the stem to freeze, e.g. stages:2)")
    return int(count)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {', '.join(choices)}")


def field_types() -> dict[str, Any]:
    """Field name → type (``float | None`` for optional fields)."""
    return typing.get_type_hints(TrainConfig)


def parse_value(key: str, value: Any) -> Any:
    """``value`` (a string from ``--set`` or a TOML value) converted to field ``key``'s type."""
    types_ = field_types()
    if key not in types_:
        raise KeyError(f"unknown config key {key!r}; valid keys: {', '.join(sorted(types_))}")
    kind = types_[key]
    optional = isinstance(kind, types.UnionType) and type(None) in kind.__args__
    if optional:
        kind = next(a for a in kind.__args__ if a is not type(None))
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            return None
    try:
        return _convert(kind, value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"config key {key!r} expects {kind.__name__}, got {value!r}") from err


def _convert(kind: type, value: Any) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            raise ValueError(value)
        return text in ("true", "1", "yes", "on")
    if isinstance(value, bool):
        raise TypeError(value)
    if kind is int:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return int(value) if not isinstance(value, str) else int(value.replace("_", ""))
    if kind is float:
        return float(value)
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def replace(config: TrainConfig, values: dict[str, Any]) -> TrainConfig:
    """A copy with ``values`` (field → raw value) converted and applied."""
    return dataclasses.replace(config, **{k: parse_value(k, v) for k, v in values.items()})


def parse_overrides(items: list[str]) -> dict[str, str]:
    """``["lr=0.1", "amp=bf16"]`` → ``{"lr": "0.1", "amp": "bf16"}``."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def list_presets() -> list[str]:
    root = resources.files("inception_v4") / "presets"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


def load_preset(name: str) -> TrainConfig:
    """The config of preset ``name`` (a bundled name, or a path to a TOML file)."""
    if name.endswith(".toml"):
        text = Path(name).read_text()
    elif name in list_presets():
        text = (resources.files("inception_v4") / "presets" / f"{name}.toml").read_text()
    else:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(list_presets())} "
                         "or give a .toml file")
    return replace(TrainConfig(), tomllib.loads(text))


TRAIN_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(TrainConfig))


def to_dict(config: TrainConfig) -> dict[str, Any]:
    return {f.name: getattr(config, f.name) for f in fields(config)}
