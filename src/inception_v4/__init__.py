"""inception-v4: Inception-v4, Inception-ResNet-v1 and -v2 (Szegedy et al., arXiv 1602.07261).

The package reads bottom-up (docs/architecture.md): ``layers`` ← ``models`` ←
{``weights``, ``inference``, ``data``} ← ``evaluate`` ← {``train``, ``export``} ←
``runtimes`` ← {``experiments``, ``bench``} ← ``cli``. This module only re-exports the
public entry points, each imported on first use (PEP 562), so that ``import
inception_v4.cli`` (the console script, whose ``--help`` needs no PyTorch) stays fast;
``inception_v4.create_model`` etc. work as always.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from .factory import create_model
    from .inference import optimize_for_inference
    from .models import list_models, optimize_for_training
    from .runtimes import on_runtime
    from .weights import load_model, load_pretrained, resolve_model, save_pretrained

# public name → the module that defines it
_EXPORTS = {
    "create_model": ".factory", "optimize_for_inference": ".inference",
    "list_models": ".models", "optimize_for_training": ".models",
    "load_model": ".weights", "load_pretrained": ".weights", "resolve_model": ".weights",
    "save_pretrained": ".weights", "on_runtime": ".runtimes",
}

__all__ = ["__version__", "create_model", "list_models", "load_model", "load_pretrained",
           "on_runtime", "optimize_for_inference", "optimize_for_training", "resolve_model",
           "save_pretrained"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'inception_v4' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
