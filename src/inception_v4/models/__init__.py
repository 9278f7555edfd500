"""The networks: spec tables, blocks and the generic builder."""

from .network import MIN_INPUT_SIZE, NetSpec, Network, Stage
from .registry import create_model, default_cfg, get_spec, list_models

__all__ = ["MIN_INPUT_SIZE", "NetSpec", "Network", "Stage", "create_model", "default_cfg",
           "get_spec", "list_models"]
