"""Speed: the fused inference graph, activation checkpointing and the benchmark command."""

from .fuse import FusedConv, fold_bn, optimize_for_inference

__all__ = ["FusedConv", "fold_bn", "optimize_for_inference"]
