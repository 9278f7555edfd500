"""inception-v4: Inception-v4, Inception-ResNet-v1 and -v2 (Szegedy et al., arXiv 1602.07261)."""

from .models import create_model, list_models

__version__ = "0.1.0"

__all__ = ["create_model", "list_models", "optimize_for_inference", "save_pretrained",
           "__version__"]


def save_pretrained(model, directory):  # noqa: ANN001, ANN201 - thin re-export, see weights
    """Write ``model`` as ``config.json`` + ``model.safetensors`` into ``directory``."""
    from .weights import save_pretrained as _save

    return _save(model, directory)


def optimize_for_inference(model, channels_last=True):  # noqa: ANN001, ANN201 - see perf
    """An eval-mode copy of ``model`` with BatchNorm folded and conv/ReLU/residual fused."""
    from .perf import optimize_for_inference as _optimize

    return _optimize(model, channels_last=channels_last)
