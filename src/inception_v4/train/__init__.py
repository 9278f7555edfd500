"""Training with the paper's recipe (§4): TF-semantics RMSProp, the 0.94-every-2-epochs
schedule, parameter averaging, data parallelism, exact resume.

``fit(config)`` runs a training; ``TrainConfig`` holds every setting (defaults: the paper),
``load_preset("paper" | "small")`` the bundled presets.
"""

from .config import PAPER_BATCH, TrainConfig, load_preset, parse_overrides, replace
from .ema import ModelEma
from .fit import fit, train_steps
from .optim import RMSpropTF, build_optimizer, param_groups, step_in_backward
from .schedule import config_learning_rate, learning_rate
from .step import NonFiniteLoss, compute_loss, train_step, validate

__all__ = ["PAPER_BATCH", "ModelEma", "NonFiniteLoss", "RMSpropTF", "TrainConfig",
           "build_optimizer", "compute_loss", "config_learning_rate", "fit",
           "learning_rate", "load_preset", "param_groups", "parse_overrides", "replace",
           "step_in_backward", "train_step", "train_steps", "validate"]
