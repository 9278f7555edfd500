"""inception-v4: Inception-v4, Inception-ResNet-v1 and -v2 (Szegedy et al., arXiv 1602.07261)."""

from .models import create_model, list_models
from .perf import optimize_for_inference
from .weights import load_model, load_pretrained, save_pretrained

__version__ = "0.1.0"

__all__ = ["create_model", "list_models", "load_model", "load_pretrained",
           "optimize_for_inference", "save_pretrained", "__version__"]
