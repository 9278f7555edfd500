"""inception-v4: Inception-v4, Inception-ResNet-v1 and -v2 (Szegedy et al., arXiv 1602.07261).

The package reads bottom-up (docs/architecture.md): ``layers`` ← ``models`` ← {``weights``,
``inference``, ``data``} ← ``evaluate`` ← {``train``, ``export``} ← {``experiments``,
``bench``} ← ``cli``. This module only re-exports the public entry points.
"""

from ._version import __version__
from .factory import create_model
from .inference import optimize_for_inference
from .models import list_models, optimize_for_training
from .weights import load_model, load_pretrained, resolve_model, save_pretrained

__all__ = ["create_model", "list_models", "load_model", "load_pretrained",
           "optimize_for_inference", "optimize_for_training", "resolve_model",
           "save_pretrained", "__version__"]
