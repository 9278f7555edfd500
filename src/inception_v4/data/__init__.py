"""Datasets (class folders, tars, embedded, ILSVRC-2012 validation), Inception preprocessing
and loaders."""

from .batching import build_loader, collate_skipping, shutdown_workers
from .dataset import ImageDataset
from .eval_set import EVAL_SPLITS, open_eval_dataset
from .forms import Layout, detect_layout, open_dataset
from .images import MAX_PIXELS, BadImageError, decode_image
from .splits import held_out
from .transforms import (
    create_transform,
    eval_transform,
    prewhiten,
    resolve_data_config,
    train_transform,
)

__all__ = ["EVAL_SPLITS", "MAX_PIXELS", "BadImageError", "ImageDataset", "Layout",
           "build_loader", "collate_skipping", "create_transform", "decode_image",
           "detect_layout", "eval_transform", "held_out", "open_dataset", "open_eval_dataset",
           "prewhiten", "resolve_data_config", "shutdown_workers",
           "train_transform"]
