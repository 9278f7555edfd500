"""The networks: spec tables, blocks, the generic builder, activation recompute and the
training layout."""

from .features import FeatureExtractor
from .model_args import ModelArgs
from .network import NetSpec, Network, Stage
from .preprocessing import FACENET_CFG, IMAGENET_CFG, MIN_INPUT_SIZE
from .registry import build_network, default_cfg, get_spec, list_models, network_from_args
from .training_layout import PoolBranch, optimize_for_training

__all__ = ["FACENET_CFG", "IMAGENET_CFG", "MIN_INPUT_SIZE", "FeatureExtractor", "ModelArgs",
           "NetSpec", "Network", "PoolBranch", "Stage", "build_network", "default_cfg", "get_spec",
           "list_models", "network_from_args", "optimize_for_training"]
