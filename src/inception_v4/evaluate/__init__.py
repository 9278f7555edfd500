"""Evaluation as the paper reports it: 1, 12 and 144 crops, ensembles, the ILSVRC-2014
blacklist subset, prediction and failure analysis."""

from .blacklist import blacklist_mask, read_blacklist, validation_indices
from .failures import write_report
from .loading import class_names, load_for_eval
from .loop import Predictions, collect_predictions, evaluate, summarize_predictions, view_config
from .metrics import rank_of_true, summarize, topk_correct
from .predict import ensemble, predict, view_probabilities
from .views import CROP_COUNTS, crop_definition, view_layout, view_normalizer, view_pixels, views

__all__ = [
    "CROP_COUNTS", "Predictions", "blacklist_mask", "class_names", "collect_predictions",
    "crop_definition", "ensemble", "evaluate", "load_for_eval", "predict", "rank_of_true",
    "read_blacklist", "summarize", "summarize_predictions", "topk_correct",
    "validation_indices", "view_config", "view_layout", "view_normalizer", "view_pixels",
    "view_probabilities", "views", "write_report",
]
