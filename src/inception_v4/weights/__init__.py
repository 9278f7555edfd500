"""Weights: our format (``config.json`` + ``model.safetensors``) and importers for timm /
Cadene, facenet-pytorch, FaceNet's Keras HDF5 and Keras applications' InceptionResNetV2;
FaceNet's ``prewhiten`` preprocessing."""

from .facenet import prewhiten
from .hub import HubUnavailableError
from .pretrained import load_model, load_pretrained, read_config, save_pretrained

__all__ = ["HubUnavailableError", "load_model", "load_pretrained", "prewhiten", "read_config",
           "save_pretrained"]
