"""The known sets of weights, one entry each (torchvision's ``Weights`` idea): where they come
from, the input they expect, their classes, their published accuracy and their licence.

Read by the hub resolver (``timm:inception_v4`` → its default tag), ``timm_compat``
(``pretrained=True``), the model card (the licence) and ``evaluate.paper`` (the published
errors set beside a measured result). Sources: ``docs/checkpoints.md`` and
``docs/paper-results.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..models import default_cfg

_IMAGENET_TERMS = "trained on ImageNet, whose terms restrict the images to non-commercial " \
                  "research and education."


@dataclass(frozen=True)
class KnownWeights:
    """One published set of weights for the registry network ``model``.

    ``hub_id``: the Hugging Face repository (None: a file to download by hand); ``classes``:
    what the outputs are (``"imagenet-1k"``: ``data.imagenet_val.imagenet_classes``);
    ``top1_err``/``top5_err``: published on ILSVRC-2012 validation, 1 crop, all 50,000 images
    (fractions; None when unpublished), printed in ``reference``; ``matches``: substrings of a
    source path that name these weights (for the licence of a converted file).
    """

    name: str
    model: str
    hub_id: str | None
    classes: str
    num_classes: int
    top1_err: float | None
    top5_err: float | None
    reference: str
    licence: str
    matches: tuple[str, ...]

    def preprocessing(self) -> dict[str, Any]:
        """The input these weights expect: the network's ``pretrained_cfg``."""
        return default_cfg(self.model)


CATALOGUE: tuple[KnownWeights, ...] = (
    KnownWeights("inception_v4.tf_in1k", "inception_v4", "timm/inception_v4.tf_in1k",
                 "imagenet-1k", 1000, 0.19856, 0.05018,
                 "timm results-imagenet.csv, inception_v4.tf_in1k",
                 "Apache-2.0 (TF-slim checkpoints ported by timm / Cadene); " + _IMAGENET_TERMS,
                 ("timm",)),
    KnownWeights("inception_resnet_v2.tf_in1k", "inception_resnet_v2",
                 "timm/inception_resnet_v2.tf_in1k", "imagenet-1k", 1000, 0.19566, 0.04688,
                 "timm results-imagenet.csv, inception_resnet_v2.tf_in1k",
                 "Apache-2.0 (TF-slim checkpoints ported by timm / Cadene); " + _IMAGENET_TERMS,
                 ("timm",)),
    KnownWeights("inception_resnet_v1_facenet.20170512", "inception_resnet_v1_facenet", None,
                 "128-d face embeddings", 128, None, None,
                 "davidsandberg/facenet 20170512-110547 (facenet_keras.h5)",
                 "MIT (davidsandberg/facenet); trained on MS-Celeb-1M, withdrawn in 2019 and "
                 "collected without consent: research use only, never to identify people.",
                 ("facenet", "vggface")),
    KnownWeights("inception_resnet_v2.keras", "inception_resnet_v2", None, "imagenet-1k", 1000,
                 None, None, "Keras applications InceptionResNetV2",
                 "Apache-2.0 (Keras applications); " + _IMAGENET_TERMS, ("keras",)),
)


def hub_default(model: str) -> KnownWeights | None:
    """The weights ``timm:MODEL`` and timm's ``pretrained=True`` load for a registry name
    (the first entry with a hub id), or None."""
    return next((w for w in CATALOGUE if w.model == model and w.hub_id), None)


def for_source(source: str) -> KnownWeights | None:
    """The entry whose ``matches`` a source path or id names (case-insensitive), or None."""
    text = source.lower()
    return next((w for w in CATALOGUE if any(m in text for m in w.matches)), None)
