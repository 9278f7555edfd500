"""Weights: our format (``config.json`` + ``model.safetensors``), importers for timm /
Cadene, facenet-pytorch, FaceNet's Keras HDF5 and Keras applications' InceptionResNetV2, and
the one resolver of a ``--weights`` argument (:func:`resolve_model`). (FaceNet's ``prewhiten``
is preprocessing: :func:`inception_v4.data.prewhiten`.)"""

from .hub import HubUnavailableError
from .pretrained import load_pretrained, load_weights, read_config, save_pretrained
from .resolve import describe, load_model, resolve_model

__all__ = ["HubUnavailableError", "describe", "load_model", "load_pretrained", "load_weights",
           "read_config", "resolve_model", "save_pretrained"]
