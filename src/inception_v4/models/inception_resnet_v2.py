"""Inception-ResNet-v2: Fig. 15 with Figs. 3, 16, 7, 17, 18, 19, as two tables.

``INCEPTION_RESNET_V2`` is the network of the released checkpoints (TF-slim
``inception_resnet_v2_2016_08_30``, timm, Keras), which the slim maintainers built "under the
advice of the authors": an Inception-ResNet-v1-style stem to 192 channels and a mixed block
to 320 (E4), 10 / 20 / 9+1 blocks (E5), 1088 and 2080 channels (E6, E7), a last C block with
scale 1.0 and no ReLU (E10), and a 1×1 conv to 1536 before the pool.

``INCEPTION_RESNET_V2_PAPER`` is the figures as printed. They cannot be built literally: the
17×17 block's expansion prints 1154 channels where Reduction-A gives 1152 (E6), and the 8×8
block's prints 2048 where Reduction-B gives 2144 (E7). We resolve both the way every residual
block of the paper works: the 1×1 expansion restores the input width (1152, 2144) so the
identity shortcut adds; no projection shortcut, no extra layer.
"""

from __future__ import annotations

from torch import nn

from ..layers import AvgPool3x3, Branches, ConvBN, MaxPool3x3s2, seq
from .inception_resnet_v1 import (
    InceptionResNetA,
    InceptionResNetB,
    InceptionResNetC,
    ReductionBResNet,
    fig14_trunk,
)
from .inception_v4 import ReductionA, Stem
from .network import NetSpec, Stage


class StemReleased(nn.Sequential):
    """The released Inception-ResNet-v2 stem (not Fig. 3; E4): Fig. 14 up to the 71×71×192
    conv, then a 3×3/2 max pool to 35×35×192 (slim Conv2d_1a_3x3 … MaxPool_5a_3x3)."""

    def __init__(self, in_ch: int, c: tuple) -> None:
        layers = fig14_trunk(in_ch, *c)
        layers["pool5a"] = MaxPool3x3s2()  # 35×35×192
        super().__init__(layers)
        self.out_channels = c[-1]


class Mixed5b(Branches):
    """The released model's 35×35 mixed block (slim Mixed_5b; not in the paper): 192 → 320."""

    def __init__(self, in_ch: int, c: tuple) -> None:
        b0, b1, b2, b3 = c
        super().__init__(
            ConvBN(in_ch, b0, 1),
            seq(ConvBN(in_ch, b1[0], 1), ConvBN(b1[0], b1[1], 5)),
            seq(ConvBN(in_ch, b2[0], 1), ConvBN(b2[0], b2[1], 3), ConvBN(b2[1], b2[2], 3)),
            seq(AvgPool3x3(), ConvBN(in_ch, b3, 1)),
            out_channels=b0 + b1[-1] + b2[-1] + b3)


class Conv1x1(ConvBN):
    """The released model's final 1×1 conv to 1536 (slim Conv2d_7b_1x1; not in the paper)."""

    def __init__(self, in_ch: int, c: int) -> None:
        super().__init__(in_ch, c, 1)


_A = (32, (32, 32), (32, 48, 64))  # Fig. 16
_B = (192, (128, 160, 192))  # Fig. 17
_C = (192, (192, 224, 256))  # Fig. 19
_RED_B = ((256, 384), (256, 288), (256, 288, 320))  # Fig. 18

INCEPTION_RESNET_V2 = NetSpec(
    name="inception_resnet_v2",
    stages=(
        Stage("Fig. 14 (released)", StemReleased, 1, (32, 32, 64, 80, 192), (35, 192),
              note="released stem, not Fig. 3 (E4)"),
        Stage("released", Mixed5b, 1, (96, (48, 64), (64, 96, 96), 64), (35, 320),
              note="slim Mixed_5b, not in the paper (E4)"),
        Stage("Fig. 16", InceptionResNetA, 10, _A, (35, 320), scale=0.17),
        Stage("Fig. 7", ReductionA, 1, (256, 256, 384, 384), (17, 1088)),  # Table 1 k, l, m, n
        Stage("Fig. 17", InceptionResNetB, 20, _B, (17, 1088), scale=0.10, aux=True),
        Stage("Fig. 18", ReductionBResNet, 1, _RED_B, (8, 2080)),
        Stage("Fig. 19", InceptionResNetC, 9, _C, (8, 2080), scale=0.20),
        Stage("Fig. 19", InceptionResNetC, 1, _C, (8, 2080), scale=1.0, activate=False,
              note="released extra block: scale 1.0, no ReLU (E10)"),
        Stage("released", Conv1x1, 1, 1536, (8, 1536), note="slim Conv2d_7b_1x1 (E7)"),
    ),
)

INCEPTION_RESNET_V2_PAPER = NetSpec(
    name="inception_resnet_v2_paper",
    stages=(
        Stage("Fig. 3", Stem, 1, (32, 32, 64, 96, ((64, 96), (64, 64, 64, 96)), 192), (35, 384)),
        Stage("Fig. 16", InceptionResNetA, 5, _A, (35, 384), scale=0.17),
        Stage("Fig. 7", ReductionA, 1, (256, 256, 384, 384), (17, 1152)),  # Table 1
        # Fig. 17 prints a 1154-channel expansion; it must be 1152 to add (E6).
        Stage("Fig. 17", InceptionResNetB, 10, _B, (17, 1152), scale=0.10, aux=True),
        Stage("Fig. 18", ReductionBResNet, 1, _RED_B, (8, 2144)),
        # Fig. 19 prints a 2048-channel expansion; it must be 2144 to add (E7).
        Stage("Fig. 19", InceptionResNetC, 5, _C, (8, 2144), scale=0.20),
    ),
)
