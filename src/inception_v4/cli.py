"""``inception-v4`` command line: one thin subcommand per API entry point.

Each subcommand lives beside the API it wraps, in a module with ``register(subparsers)``
that adds its parser and sets ``func`` (called with the parsed args, returns an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ._version import __version__

# Modules providing ``register(subparsers)``, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "inception_v4.models.commands",
    "inception_v4.train.commands",
    "inception_v4.weights.commands",
    "inception_v4.evaluate.commands",
    "inception_v4.export",
    "inception_v4.experiments.commands",
    "inception_v4.bench.commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inception-v4",
        description="Inception-v4 / Inception-ResNet (arXiv 1602.07261): models, training, "
                    "evaluation, experiments.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code. Errors on bad input print one line, exit 2."""
    args = build_parser().parse_args(argv)
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
