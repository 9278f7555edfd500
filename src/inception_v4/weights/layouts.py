"""Name tables: our module paths → timm / Cadene, facenet-pytorch and Keras FaceNet names
(Keras applications' InceptionResNetV2 is matched by position: :mod:`.keras_apps`).

Each table can be checked row by row against ``docs/checkpoints.md`` ("Names in the
checkpoints"): the comments give the TF-slim scope of each row. Our paths are relative to the
stem, to one block (``stages.s.i``) or to the head; a block's name in the source comes from the
stage row (:class:`~.mapping.Layout`), so reduced-depth models map block by block too.
"""

from __future__ import annotations

from .keras_apps import keras_key_map
from .mapping import Layout


def tower(ours: str, theirs: str, n: int) -> dict[str, str]:
    """``n`` convolutions in a row: ``ours.0 … ours.{n-1}`` → ``theirs.0 … theirs.{n-1}``."""
    return {f"{ours}.{k}": f"{theirs}.{k}" for k in range(n)}


# --------------------------------------------------------------------------------------------
# timm / Cadene Inception-v4: features.0-5 is the stem, features.6-21 the 16 blocks in order.
_V4_STEM = {
    "conv1a": "features.0",                                  # Conv2d_1a_3x3
    "conv2a": "features.1",                                  # Conv2d_2a_3x3
    "conv2b": "features.2",                                  # Conv2d_2b_3x3
    "mixed3a.branches.1": "features.3.conv",                 # Mixed_3a/Branch_1 (0 = max pool)
    **tower("mixed4a.branches.0", "features.4.branch0", 2),  # Mixed_4a/Branch_0/{0a, 1a}
    **tower("mixed4a.branches.1", "features.4.branch1", 4),  # Mixed_4a/Branch_1/{0a,0b,0c,1a}
    "mixed5a.branches.0": "features.5.conv",                 # Mixed_5a/Branch_0 (1 = max pool)
}
_V4_BLOCKS = {
    "InceptionA": {                                          # Mixed_5b..5e = features.6-9
        "branches.0": "branch0",
        **tower("branches.1", "branch1", 2),
        **tower("branches.2", "branch2", 3),
        "branches.3.1": "branch3.1",                         # branches.3.0 is the avg pool
    },
    "ReductionA": {                                          # Mixed_6a = features.10
        "branches.0": "branch0",
        **tower("branches.1", "branch1", 3),
    },
    "InceptionB": {                                          # Mixed_6b..6h = features.11-17
        "branches.0": "branch0",
        **tower("branches.1", "branch1", 3),
        **tower("branches.2", "branch2", 5),
        "branches.3.1": "branch3.1",
    },
    "ReductionB": {                                          # Mixed_7a = features.18
        **tower("branches.0", "branch0", 2),
        **tower("branches.1", "branch1", 4),
    },
    "InceptionC": {                                          # Mixed_7b..7d = features.19-21
        "branches.0": "branch0",                             # Branch_0/Conv2d_0a_1x1
        "branches.1.0": "branch1_0",                         # Branch_1/Conv2d_0a_1x1
        "branches.1.1.branches.0": "branch1_1a",             # Branch_1/Conv2d_0b_1x3
        "branches.1.1.branches.1": "branch1_1b",             # Branch_1/Conv2d_0c_3x1
        "branches.2.0": "branch2_0",                         # Branch_2/Conv2d_0a_1x1
        "branches.2.1": "branch2_1",                         # Branch_2/Conv2d_0b_3x1
        "branches.2.2": "branch2_2",                         # Branch_2/Conv2d_0c_1x3
        "branches.2.3.branches.0": "branch2_3a",             # Branch_2/Conv2d_0d_1x3
        "branches.2.3.branches.1": "branch2_3b",             # Branch_2/Conv2d_0e_3x1
        "branches.3.1": "branch3.1",                         # Branch_3/Conv2d_0b_1x1
    },
}
TIMM_INCEPTION_V4 = Layout(
    name="timm/Cadene inception_v4",
    stem=_V4_STEM,
    stages=("features.{n}",) * 5,  # running block number: Mixed_5b = features.6
    first_block=6,
    blocks=_V4_BLOCKS,
    head={"fc": "last_linear"},                              # Logits/Logits
)

# --------------------------------------------------------------------------------------------
# The Inception-ResNet blocks, named alike by timm/Cadene (IR-v2) and facenet-pytorch (IR-v1).
_RESNET_BLOCKS = {
    "Mixed5b": {                                             # Mixed_5b (IR-v2 only)
        "branches.0": "branch0",                             # Branch_0/Conv2d_1x1
        **tower("branches.1", "branch1", 2),                 # Branch_1/{0a_1x1, 0b_5x5}
        **tower("branches.2", "branch2", 3),                 # Branch_2/{0a, 0b, 0c}
        "branches.3.1": "branch3.1",                         # Branch_3/Conv2d_0b_1x1
    },
    "InceptionResNetA": {                                    # block35
        "branches.0": "branch0",
        **tower("branches.1", "branch1", 2),
        **tower("branches.2", "branch2", 3),
        "project": "conv2d",                                 # Conv2d_1x1 (bias, no BN)
    },
    "ReductionA": {                                          # Mixed_6a
        "branches.0": "branch0",                             # Branch_0/Conv2d_1a_3x3
        **tower("branches.1", "branch1", 3),                 # Branch_1/{0a, 0b, 1a}
    },
    "InceptionResNetB": {                                    # block17
        "branches.0": "branch0",
        **tower("branches.1", "branch1", 3),                 # Branch_1/{0a, 0b_1x7, 0c_7x1}
        "project": "conv2d",
    },
    "ReductionBResNet": {                                    # Mixed_7a
        **tower("branches.0", "branch0", 2),                 # Branch_0/{0a, 1a}
        **tower("branches.1", "branch1", 2),                 # Branch_1/{0a, 1a}
        **tower("branches.2", "branch2", 3),                 # Branch_2/{0a, 0b, 1a}
    },
    "InceptionResNetC": {                                    # block8 / Block8
        "branches.0": "branch0",
        **tower("branches.1", "branch1", 3),                 # Branch_1/{0a, 0b_1x3, 0c_3x1}
        "project": "conv2d",
    },
    "Conv1x1": {"": ""},                                     # Conv2d_7b_1x1 (IR-v2 only)
}
_RESNET_STEM = {
    "conv1a": "conv2d_1a",                                   # Conv2d_1a_3x3
    "conv2a": "conv2d_2a",                                   # Conv2d_2a_3x3
    "conv2b": "conv2d_2b",                                   # Conv2d_2b_3x3
    "conv3b": "conv2d_3b",                                   # Conv2d_3b_1x1
    "conv4a": "conv2d_4a",                                   # Conv2d_4a_3x3
    "conv4b": "conv2d_4b",                                   # Conv2d_4b_3x3 (IR-v1 only)
}
TIMM_INCEPTION_RESNET_V2 = Layout(
    name="timm/Cadene inception_resnet_v2",
    stem=_RESNET_STEM,
    stages=("mixed_5b", "repeat.{i}", "mixed_6a", "repeat_1.{i}", "mixed_7a", "repeat_2.{i}",
            "block8", "conv2d_7b"),  # Mixed_5b, Repeat/block35_{j}, …, Block8, Conv2d_7b_1x1
    blocks=_RESNET_BLOCKS,
    head={"fc": "classif"},        # Logits/Logits; Cadene calls it last_linear (CADENE_HEAD)
)
CADENE_HEAD = {"fc": "last_linear"}

FACENET_PYTORCH = Layout(
    name="facenet-pytorch InceptionResnetV1",
    stem=_RESNET_STEM,
    stages=("repeat_1.{i}", "mixed_6a", "repeat_2.{i}", "mixed_7a", "repeat_3.{i}", "block8"),
    blocks=_RESNET_BLOCKS,
    head={"fc": "last_linear", "bn": "last_bn"},             # Bottleneck, its BatchNorm
)

# --------------------------------------------------------------------------------------------
# FaceNet's Keras HDF5: slim scopes with "/" → "_"; every BN is its own "<conv>_BatchNorm".
_KERAS_LEAF = {
    "conv.weight": "{p}/kernel",
    "bn.bias": "{p}_BatchNorm/beta",
    "bn.running_mean": "{p}_BatchNorm/moving_mean",
    "bn.running_var": "{p}_BatchNorm/moving_variance",
    "weight": "{p}/kernel",                                  # up-projection conv
    "bias": "{p}/bias",
    "fc.weight": "{p}/kernel",                               # Bottleneck (Dense)
}


def keras_leaf(prefix: str, leaf: str) -> str | None:
    """Keras names; None for tensors Keras does not store (``num_batches_tracked``)."""
    fmt = _KERAS_LEAF.get(leaf)
    return None if fmt is None else fmt.format(p=prefix)


KERAS_FACENET = Layout(
    name="FaceNet Keras HDF5 (Inception-ResNet-v1)",
    stem={
        "conv1a": "Conv2d_1a_3x3", "conv2a": "Conv2d_2a_3x3", "conv2b": "Conv2d_2b_3x3",
        "conv3b": "Conv2d_3b_1x1", "conv4a": "Conv2d_4a_3x3", "conv4b": "Conv2d_4b_3x3",
    },
    stages=("Block35_{j}", "Mixed_6a", "Block17_{j}", "Mixed_7a", "Block8_{j}", "Block8_6"),
    blocks={
        "InceptionResNetA": {
            "branches.0": "Branch_0_Conv2d_1x1",
            "branches.1.0": "Branch_1_Conv2d_0a_1x1",
            "branches.1.1": "Branch_1_Conv2d_0b_3x3",
            "branches.2.0": "Branch_2_Conv2d_0a_1x1",
            "branches.2.1": "Branch_2_Conv2d_0b_3x3",
            "branches.2.2": "Branch_2_Conv2d_0c_3x3",
            "project": "Conv2d_1x1",
        },
        "ReductionA": {
            "branches.0": "Branch_0_Conv2d_1a_3x3",
            "branches.1.0": "Branch_1_Conv2d_0a_1x1",
            "branches.1.1": "Branch_1_Conv2d_0b_3x3",
            "branches.1.2": "Branch_1_Conv2d_1a_3x3",
        },
        "InceptionResNetB": {
            "branches.0": "Branch_0_Conv2d_1x1",
            "branches.1.0": "Branch_1_Conv2d_0a_1x1",
            "branches.1.1": "Branch_1_Conv2d_0b_1x7",
            "branches.1.2": "Branch_1_Conv2d_0c_7x1",
            "project": "Conv2d_1x1",
        },
        "ReductionBResNet": {
            "branches.0.0": "Branch_0_Conv2d_0a_1x1",
            "branches.0.1": "Branch_0_Conv2d_1a_3x3",
            "branches.1.0": "Branch_1_Conv2d_0a_1x1",
            "branches.1.1": "Branch_1_Conv2d_1a_3x3",
            "branches.2.0": "Branch_2_Conv2d_0a_1x1",
            "branches.2.1": "Branch_2_Conv2d_0b_3x3",
            "branches.2.2": "Branch_2_Conv2d_1a_3x3",
        },
        "InceptionResNetC": {
            "branches.0": "Branch_0_Conv2d_1x1",
            "branches.1.0": "Branch_1_Conv2d_0a_1x1",
            "branches.1.1": "Branch_1_Conv2d_0b_1x3",
            "branches.1.2": "Branch_1_Conv2d_0c_3x1",
            "project": "Conv2d_1x1",
        },
    },
    head={"": "Bottleneck"},                                 # fc → Bottleneck, bn → its BN
    sep="_",
    leaf=keras_leaf,
)

# Keras applications' InceptionResNetV2: auto-numbered layers, matched by position in Keras'
# layer order (see keras_apps); "predictions" is the only Dense.
KERAS_INCEPTION_RESNET_V2 = Layout(
    name="Keras applications InceptionResNetV2",
    stem={}, stages=(), blocks={},
    head={"fc": "Dense[0]"},
    leaf=keras_leaf,
    by_position=keras_key_map,
)

# (naming convention, our model) → layout. The convention is read off the source's keys.
LAYOUTS = {
    ("timm", "inception_v4"): TIMM_INCEPTION_V4,
    ("timm", "inception_resnet_v2"): TIMM_INCEPTION_RESNET_V2,
    ("facenet-pytorch", "inception_resnet_v1_facenet"): FACENET_PYTORCH,
    ("keras-facenet", "inception_resnet_v1_facenet"): KERAS_FACENET,
    ("keras-applications", "inception_resnet_v2"): KERAS_INCEPTION_RESNET_V2,
}
