"""``inception-v4`` command line: one thin subcommand per API entry point.

Each subcommand lives beside the API it wraps, in a module with ``register(subparsers)``
that adds its parser and sets ``func`` (called with the parsed args, returns an exit code).
Only the module of the command given is imported: ``inception-v4 --help`` and ``--version``
start without PyTorch (the package's ``__init__`` re-exports lazily for the same reason).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ._version import __version__

# command → (module providing ``register(subparsers)``, one line for ``--help``), in the order
# ``--help`` lists them.
COMMANDS = {
    "models": ("inception_v4.models.commands", "list the networks with parameters and GMACs"),
    "info": ("inception_v4.models.commands", "the stage table of one network: shapes, "
             "params, MACs"),
    "train": ("inception_v4.train.commands", "train a network with the paper's recipe (or the "
              "small preset)"),
    "convert": ("inception_v4.weights.commands", "convert timm/Cadene, facenet-pytorch, FaceNet "
                "Keras or Keras applications weights to our folder"),
    "evaluate": ("inception_v4.evaluate.commands", "top-1/top-5 error at 1, 12 or 144 crops "
                 "(Tables 2-4)"),
    "ensemble": ("inception_v4.evaluate.commands", "average several models' probabilities "
                 "(Table 5)"),
    "predict": ("inception_v4.evaluate.commands", "top-k classes of images or folders (an "
                "embedding network: the embeddings)"),
    "compare": ("inception_v4.evaluate.commands", "are two face images the same person? (an "
                "embedding network: FaceNet)"),
    "export": ("inception_v4.export.commands", "export a network to ONNX or a torch.export "
               "program, checked against PyTorch"),
    "experiment": ("inception_v4.experiments.commands", "reproduce the paper's claims: "
                   "residual | scaling"),
    "bench": ("inception_v4.bench.commands", "speed and memory against timm; input pipeline "
              "speed"),
}


def _parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    parser = argparse.ArgumentParser(
        prog="inception-v4",
        description="Inception-v4 / Inception-ResNet (arXiv 1602.07261): models, training, "
                    "evaluation, experiments. `inception-v4 COMMAND --help` for each.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser, parser.add_subparsers(dest="command", required=True, metavar="COMMAND")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser: with ``command``, that command's full parser (its module imported);
    without, every command's full parser (all modules imported)."""
    parser, sub = _parser()
    wanted = list(COMMANDS) if command is None else [command]
    for module in dict.fromkeys(COMMANDS[name][0] for name in wanted):
        importlib.import_module(module).register(sub)
    return parser


def _summary_parser() -> argparse.ArgumentParser:
    """Every command listed with its one line, no module imported (``--help``, errors)."""
    parser, sub = _parser()
    for name, (_, summary) in COMMANDS.items():
        sub.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code. Errors on bad input print one line, exit 2."""
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in COMMANDS:
        _summary_parser().parse_args(argv)  # --help, --version, or a usage error: exits
        return 2
    args = build_parser(command).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, KeyError) as err:
        print(f"inception-v4 {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C outside training (or a second one inside): no traceback
        print(f"inception-v4 {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
