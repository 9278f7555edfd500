"""Inception-v4: the blocks of Figs. 3-8 and the schema of Fig. 9 as one table.

Branch order and kernel orientation follow TF-slim (``inception_v4.py``), which was written
with the authors and whose checkpoint is the one the world uses; where the figure differs,
the comment at that line says how (errata E1-E3 in ``docs/errata.md``).
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from ..layers import AvgPool3x3, Branches, ConvBN, MaxPool3x3s2, seq
from .network import NetSpec, Stage


class Stem(nn.Sequential):
    """Fig. 3, the stem of Inception-v4 and of the paper's Inception-ResNet-v2.

    299×299×3 → 35×35×384. TF-slim scopes Conv2d_1a_3x3 … Mixed_5a.
    """

    def __init__(self, in_ch: int, c: tuple) -> None:
        c1a, c2a, c2b, c3a, (c4a, c4b), c5a = c
        super().__init__(OrderedDict(
            conv1a=ConvBN(in_ch, c1a, 3, 2, "valid"),            # 149×149×32
            conv2a=ConvBN(c1a, c2a, 3, 1, "valid"),              # 147×147×32
            conv2b=ConvBN(c2a, c2b, 3),                          # 147×147×64
            mixed3a=Branches(                                    # 73×73×160
                MaxPool3x3s2(),
                ConvBN(c2b, c3a, 3, 2, "valid"),
                out_channels=c2b + c3a, stride=2),
            mixed4a=Branches(                                    # 71×71×192
                seq(ConvBN(c2b + c3a, c4a[0], 1), ConvBN(c4a[0], c4a[1], 3, 1, "valid")),
                # Fig. 3 draws 7×1 before 1×7 (E3); slim's order keeps its weights loadable.
                seq(ConvBN(c2b + c3a, c4b[0], 1), ConvBN(c4b[0], c4b[1], (1, 7)),
                    ConvBN(c4b[1], c4b[2], (7, 1)), ConvBN(c4b[2], c4b[3], 3, 1, "valid")),
                out_channels=c4a[1] + c4b[3]),
            mixed5a=Branches(                                    # 35×35×384
                # Fig. 3 prints "3×3 Conv (192 V)" without stride 2; 71 → 35 needs it (E1).
                ConvBN(c4a[1] + c4b[3], c5a, 3, 2, "valid"),
                MaxPool3x3s2(),
                out_channels=c5a + c4a[1] + c4b[3], stride=2),
        ))
        self.out_channels = c5a + c4a[1] + c4b[3]


class InceptionA(Branches):
    """Fig. 4, Inception-A, the 35×35 block (slim Mixed_5b…5e). 384 → 96+96+96+96."""

    def __init__(self, in_ch: int, c: tuple) -> None:
        b0, b1, b2, b3 = c
        super().__init__(
            ConvBN(in_ch, b0, 1),
            seq(ConvBN(in_ch, b1[0], 1), ConvBN(b1[0], b1[1], 3)),
            seq(ConvBN(in_ch, b2[0], 1), ConvBN(b2[0], b2[1], 3), ConvBN(b2[1], b2[2], 3)),
            seq(AvgPool3x3(), ConvBN(in_ch, b3, 1)),
            out_channels=b0 + b1[-1] + b2[-1] + b3)


class ReductionA(Branches):
    """Fig. 7, Reduction-A, 35×35 → 17×17 (slim Mixed_6a), with Table 1's (k, l, m, n).

    Shared by all three networks; out = n + m + input channels.
    """

    def __init__(self, in_ch: int, c: tuple) -> None:
        k, l, m, n = c
        super().__init__(
            ConvBN(in_ch, n, 3, 2, "valid"),
            seq(ConvBN(in_ch, k, 1), ConvBN(k, l, 3), ConvBN(l, m, 3, 2, "valid")),
            MaxPool3x3s2(),
            out_channels=n + m + in_ch, stride=2)


class InceptionB(Branches):
    """Fig. 5, Inception-B, the 17×17 block (slim Mixed_6b…6h). 1024 → 384+256+256+128."""

    def __init__(self, in_ch: int, c: tuple) -> None:
        b0, b1, b2, b3 = c
        super().__init__(
            ConvBN(in_ch, b0, 1),
            # Fig. 5 prints the last conv as "1×7"; a factorised 7×7 needs 7×1 (E2).
            seq(ConvBN(in_ch, b1[0], 1), ConvBN(b1[0], b1[1], (1, 7)),
                ConvBN(b1[1], b1[2], (7, 1))),
            # Fig. 5 starts this tower with 1×7; slim (and its weights) with 7×1 (E3).
            seq(ConvBN(in_ch, b2[0], 1), ConvBN(b2[0], b2[1], (7, 1)),
                ConvBN(b2[1], b2[2], (1, 7)), ConvBN(b2[2], b2[3], (7, 1)),
                ConvBN(b2[3], b2[4], (1, 7))),
            seq(AvgPool3x3(), ConvBN(in_ch, b3, 1)),
            out_channels=b0 + b1[-1] + b2[-1] + b3)


class ReductionB(Branches):
    """Fig. 8, Reduction-B of Inception-v4, 17×17 → 8×8 (slim Mixed_7a). 1024 → 1536."""

    def __init__(self, in_ch: int, c: tuple) -> None:
        b0, b1 = c
        super().__init__(
            seq(ConvBN(in_ch, b0[0], 1), ConvBN(b0[0], b0[1], 3, 2, "valid")),
            seq(ConvBN(in_ch, b1[0], 1), ConvBN(b1[0], b1[1], (1, 7)),
                ConvBN(b1[1], b1[2], (7, 1)), ConvBN(b1[2], b1[3], 3, 2, "valid")),
            MaxPool3x3s2(),
            out_channels=b0[-1] + b1[-1] + in_ch, stride=2)


class InceptionC(Branches):
    """Fig. 6, Inception-C, the 8×8 block (slim Mixed_7b…7d). 1536 → 256+512+512+256."""

    def __init__(self, in_ch: int, c: tuple) -> None:
        b0, (b1, b1s), (b2a, b2b, b2c, b2s), b3 = c
        super().__init__(
            ConvBN(in_ch, b0, 1),
            seq(ConvBN(in_ch, b1, 1),
                Branches(ConvBN(b1, b1s, (1, 3)), ConvBN(b1, b1s, (3, 1)), out_channels=2 * b1s)),
            # Fig. 6 draws 1×3 (448) then 3×1 (512); slim has 3×1 then 1×3 (E3).
            seq(ConvBN(in_ch, b2a, 1), ConvBN(b2a, b2b, (3, 1)), ConvBN(b2b, b2c, (1, 3)),
                Branches(ConvBN(b2c, b2s, (1, 3)), ConvBN(b2c, b2s, (3, 1)), out_channels=2 * b2s)),
            seq(AvgPool3x3(), ConvBN(in_ch, b3, 1)),
            out_channels=b0 + 2 * b1s + 2 * b2s + b3)


# Fig. 9: the schema of Inception-v4. Output shapes are for a 299×299 input.
INCEPTION_V4 = NetSpec(
    name="inception_v4",
    stages=(
        #     figure     block        repeats  channels (as printed)                  out (grid, ch)
        Stage("Fig. 3", Stem, 1, (32, 32, 64, 96, ((64, 96), (64, 64, 64, 96)), 192), (35, 384)),
        Stage("Fig. 4", InceptionA, 4, (96, (64, 96), (64, 96, 96), 96), (35, 384)),
        Stage("Fig. 7", ReductionA, 1, (192, 224, 256, 384), (17, 1024)),  # Table 1 k, l, m, n
        Stage("Fig. 5", InceptionB, 7, (384, (192, 224, 256), (192, 192, 224, 224, 256), 128),
              (17, 1024), aux=True),
        Stage("Fig. 8", ReductionB, 1, ((192, 192), (256, 256, 320, 320)), (8, 1536)),
        Stage("Fig. 6", InceptionC, 3, (256, (384, 256), (384, 448, 512, 256), 256), (8, 1536)),
    ),
)
