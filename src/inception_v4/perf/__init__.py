"""Speed: the fused inference graph, training layout, activation checkpointing, benchmarks."""

from .fuse import FusedConv, fold_bn, optimize_for_inference
from .training import PoolBranch, optimize_for_training

__all__ = ["FusedConv", "PoolBranch", "fold_bn", "optimize_for_inference",
           "optimize_for_training"]
