"""``inception-v4 train``: a thin wrapper over :func:`inception_v4.train.fit`."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from .config import AMP_CHOICES, TrainConfig, load_preset, parse_overrides, replace, to_dict

# flag → config field, for the flags that map one to one (None: not given).
_FLAGS = {
    "model": str, "data": str, "out": str, "epochs": float, "max_steps": int,
    "batch_size": int, "image_size": int, "width": float, "depth": float,
    "residual_scale": float, "resume": str, "checkpoint_every": int, "keep_checkpoints": int,
    "log_every": int,
    "device": str, "amp": str, "workers": int, "seed": int, "pretrained": str, "freeze": str,
}

# boolean config fields that are plain switches on the command line
_SWITCHES = ("channels_last", "compile", "sync_bn", "grad_checkpointing", "step_in_backward",
             "pretrained_ema")
_FLAG_NAMES = {"pretrained_ema": "--ema"}  # flags not spelled as their field


def _flag(name: str) -> str:
    return _FLAG_NAMES.get(name, "--" + name.replace("_", "-"))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train a network (the paper's recipe, a CPU preset) or fine-tune weights",
        description="Train with the paper's recipe (preset 'paper', the defaults), a CPU "
                    "preset ('small'), or fine-tune pretrained weights (--pretrained, preset "
                    "'finetune'). Settings: preset < flags < --set key=value; the "
                    "defaults below are the chosen preset's (paper and small shown). "
                    "--print-config shows the resolved settings. Under torchrun the run is "
                    "data-parallel; --batch-size is global.")
    p.add_argument("--preset", default=None,
                   help="paper | small | finetune | a .toml file (default: paper; finetune "
                        "with --pretrained)")
    for name, kind in _FLAGS.items():
        flag = _flag(name)
        extra = {"choices": AMP_CHOICES} if name == "amp" else {}
        p.add_argument(flag, type=kind, default=None, help=_help(name), **extra)
    for name in _SWITCHES:
        p.add_argument(_flag(name), dest=name, action="store_true", default=None,
                       help=_help(name))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config field (repeatable); unknown keys are rejected")
    p.add_argument("--print-config", action="store_true",
                   help="print the resolved settings (preset, flags, --set) as a preset TOML "
                        "and exit without training")
    p.set_defaults(func=run_train)


_HELP = {
    "model": "registry name (see `inception-v4 models`)",
    "data": "train/ + val/ folders, one ImageFolder, train.tar + val.tar, or 'embedded'",
    "out": "output folder: config.json, metrics.csv, eval.csv, curves.png, checkpoints/",
    "epochs": "length of the schedule in epochs (may be fractional); warm-up takes at most "
              "30%% of it",
    "max_steps": "stop after this many steps without changing the schedule (0: none)",
    "batch_size": "GLOBAL batch, split over torchrun ranks; lr scales by batch/reference_batch",
    "resume": "auto (the newest good checkpoint in OUT/checkpoints: a damaged one is reported "
              "and the previous one used), never, or a checkpoint path",
    "checkpoint_every": "write checkpoints/step-N.pt (and last.pt) every this many steps (0: "
                        "epoch ends only)",
    "keep_checkpoints": "how many step checkpoints to keep (the newest; at least 1)",
    "device": "auto, cpu, cuda or cuda:N",
    "amp": "mixed precision: off, bf16, fp16 (with a gradient scaler) or auto (bf16 where the "
           "device computes bf16 natively: AVX512-BF16/AMX CPUs, Ampere+ GPUs; else off)",
    "workers": "DataLoader worker processes per rank",
    "sync_bn": "batch-norm statistics over the global batch under torchrun",
    "grad_checkpointing": "activation checkpointing: less training memory, ~1/3 more compute",
    "step_in_backward": "update each weight during backward and free its gradient (less "
                        "memory; needs clip_grad_norm=0, one process, no fp16)",
    "pretrained": "start from these weights (anything `--weights` takes: our folder, a run "
                  "folder, timm/Keras/FaceNet files, timm:NAME, hf-hub:ORG/NAME); the network "
                  "and its preprocessing come from them, the head follows the data",
    "pretrained_ema": "with --pretrained RUN: start from the run's averaged weights",
    "freeze": "none, features (train the head only) or stages:N (freeze the stem and the "
              "first N stages); frozen parts keep their BatchNorm statistics",
}


def _help(name: str) -> str:
    text = _HELP.get(name, f"config field {name}")
    defaults = ", ".join(f"{preset}: {getattr(load_preset(preset), name)}"
                         for preset in ("paper", "small"))
    return f"{text} (default from the preset; {defaults})"


def resolve_config(args: argparse.Namespace) -> TrainConfig:
    """Preset, then the flags given, then ``--set`` overrides."""
    config = load_preset(preset_name(args))
    names = list(_FLAGS) + list(_SWITCHES)
    flags = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
    if args.pretrained and args.model is None:
        flags["model"] = ""  # the network the weights hold (a --set model=... still agrees)
    # one replace: checks that tie fields together see the flags and --set values at once
    return replace(config, {**flags, **parse_overrides(args.set)})


def preset_name(args: argparse.Namespace) -> str:
    """``--preset``, else ``finetune`` with ``--pretrained`` and ``paper`` without."""
    return args.preset or ("finetune" if args.pretrained else "paper")


def command_line(args: argparse.Namespace) -> list[str]:
    """The ``inception-v4 train ...`` command that reproduces ``args`` (for config.json)."""
    words = ["inception-v4", "train", "--preset", preset_name(args)]
    for name in list(_FLAGS) + list(_SWITCHES):
        value = getattr(args, name)
        if value is not None:
            flag = _flag(name)
            words += [flag] if value is True else [flag, str(value)]
    for item in args.set:
        words += ["--set", item]
    return words


def run_train(args: argparse.Namespace) -> int:
    from ..checkpoint import CheckpointWriteError
    from .fit import fit
    from .preempt import INTERRUPTED
    from .step import NonFiniteLoss

    config = resolve_config(args)
    if args.print_config:
        print(config_toml(config, command_line(args)))
        return 0
    try:
        result = fit(config, command=command_line(args))
    except NonFiniteLoss as err:
        print(f"inception-v4 train: {err}", file=sys.stderr)
        return 3
    except CheckpointWriteError as err:
        print(f"inception-v4 train: error: {err.strerror}", file=sys.stderr)
        return 2
    if result["world_size"] > 1 and not _is_rank0():
        return 0
    if result["stopped"] == "preempted":
        print(f"inception-v4 train: preempted ({result['stop_signal']}) after step "
              f"{result['steps']}; checkpoint {result['stopped_checkpoint']} written. Run the "
              f"same command again (--resume auto) to continue from it.", flush=True)
        return INTERRUPTED if result["stop_signal"] == "SIGINT" else 0
    if result.get("finished_before"):
        print(f"{result['out']} already holds a finished run ({result['steps']} steps): nothing "
              f"was trained. Use another --out, --resume never to start again, or a longer "
              f"--epochs / --max-steps to continue it. Its result:")
    print(format_summary(result))
    return 0


def config_toml(config: TrainConfig, command: list[str]) -> str:
    """The resolved settings as a preset file (``--preset FILE`` reads it back)."""
    lines = [f"# {' '.join(command)}"]
    for key, value in to_dict(config).items():
        if value is None:
            lines.append(f"# {key} = (none: the model's own)")
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines)


def _is_rank0() -> bool:
    from .distributed import launch_rank

    return launch_rank() == 0


def format_summary(result: dict) -> str:
    """The end-of-run report: errors (raw and averaged), speed, where the files are."""
    averaged = [] if math.isnan(result["ema_top1_err"]) else [  # ema_decay=0: none
        f"val top-1 error {result['ema_top1_err']:.2%}, top-5 error "
        f"{result['ema_top5_err']:.2%} (averaged weights)"]
    return "\n".join([
        f"stopped: {result['stopped']} after {result['steps']} steps "
        f"({result['epochs']:.2f} epochs, {result['train_seconds'] / 60:.1f} min training)",
        f"val top-1 error {result['top1_err']:.2%}, top-5 error {result['top5_err']:.2%} "
        f"(raw weights)",
        *averaged,
        f"dead fraction before the pool {result['dead_fraction']:.2%}; "
        + (f"{result['images_per_s']:.1f} images/s; " if result["images_per_s"] > 0 else "")
        + f"skipped per epoch {result['skipped_per_epoch']}",
        f"files: {result['out']} (config.json, metrics.csv, eval.csv, curves.png, "
        f"checkpoints/{_tensorboard_files(result['out'])})",
    ])


def _tensorboard_files(out: str) -> str:
    found = any(Path(out).glob("events.out.tfevents.*"))
    return ", events.out.tfevents.* (TensorBoard)" if found else ""
