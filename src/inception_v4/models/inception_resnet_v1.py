"""Inception-ResNet-v1: the blocks of Figs. 10-14, the residual scaling of Fig. 20, and the
schema of Fig. 15 (the v1 row of Table 1) as tables, paper-literal and as FaceNet released it.

Inception-ResNet-v2's blocks (Figs. 16, 17, 19, 18) have the same topology as Figs. 10, 11,
13, 12 with other channel counts, so the v2 tables reuse these classes with their literals.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from ..layers import Branches, ConvBN, MaxPool3x3s2, seq
from .inception_v4 import ReductionA
from .network import NetSpec, Stage
from .preprocessing import FACENET_CFG


class Residual(nn.Module):
    """Fig. 20: ``relu(x + scale · project(concat(branches(x))))``.

    ``project`` is the figures' "1×1 Conv (Linear)" filter expansion back to the input width:
    bias, no BatchNorm, no activation (§3.2: no BN on top of the summations).
    ``residual=False`` drops the identity path, leaving ``relu(project(…))``: the same cost
    without the shortcut (the plain twin for the residual-vs-plain experiment).
    """

    stride = 1

    def __init__(self, in_ch: int, branches: list[nn.Module], concat_ch: int, scale: float,
                 activate: bool = True, residual: bool = True) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.project = nn.Conv2d(concat_ch, in_ch, 1, bias=True)
        self.scale, self.activate, self.residual = scale, activate, residual
        self.act = nn.ReLU(inplace=True) if activate else nn.Identity()
        self.out_channels = in_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = self.project(torch.cat([b(x) for b in self.branches], 1))
        return self.act(x + self.scale * up if self.residual else up)


def fig14_trunk(in_ch: int, c1a: int, c2a: int, c2b: int, c3b: int,
                c4a: int) -> OrderedDict[str, nn.Module]:
    """Fig. 14 up to its 71×71×192 convolution (shared with the released IR-v2 stem)."""
    return OrderedDict(
        conv1a=ConvBN(in_ch, c1a, 3, 2, "valid"),   # 149×149×32
        conv2a=ConvBN(c1a, c2a, 3, 1, "valid"),     # 147×147×32
        conv2b=ConvBN(c2a, c2b, 3),                 # 147×147×64
        pool3a=MaxPool3x3s2(),                      # 73×73×64
        conv3b=ConvBN(c2b, c3b, 1),                 # 73×73×80
        conv4a=ConvBN(c3b, c4a, 3, 1, "valid"),     # 71×71×192
    )


class StemResNetV1(nn.Sequential):
    """Fig. 14, the stem of Inception-ResNet-v1: 299×299×3 → 35×35×256."""

    def __init__(self, in_ch: int, c: tuple) -> None:
        *trunk, c4b = c
        layers = fig14_trunk(in_ch, *trunk)
        layers["conv4b"] = ConvBN(trunk[-1], c4b, 3, 2, "valid")  # 35×35×256
        super().__init__(layers)
        self.out_channels = c4b


class InceptionResNetA(Residual):
    """Fig. 10 (v1: 32/32/32) and Fig. 16 (v2: 32/32/48-64), the 35×35 residual block
    (slim block35)."""

    def __init__(self, in_ch: int, c: tuple, scale: float, activate: bool = True,
                 residual: bool = True) -> None:
        b0, b1, b2 = c
        super().__init__(in_ch, [
            ConvBN(in_ch, b0, 1),
            seq(ConvBN(in_ch, b1[0], 1), ConvBN(b1[0], b1[1], 3)),
            seq(ConvBN(in_ch, b2[0], 1), ConvBN(b2[0], b2[1], 3), ConvBN(b2[1], b2[2], 3)),
        ], b0 + b1[-1] + b2[-1], scale, activate, residual)


class InceptionResNetB(Residual):
    """Fig. 11 (v1: 128/128) and Fig. 17 (v2: 192/128-160-192), the 17×17 residual block
    (slim block17)."""

    def __init__(self, in_ch: int, c: tuple, scale: float, activate: bool = True,
                 residual: bool = True) -> None:
        b0, b1 = c
        super().__init__(in_ch, [
            ConvBN(in_ch, b0, 1),
            seq(ConvBN(in_ch, b1[0], 1), ConvBN(b1[0], b1[1], (1, 7)),
                ConvBN(b1[1], b1[2], (7, 1))),
        ], b0 + b1[-1], scale, activate, residual)


class InceptionResNetC(Residual):
    """Fig. 13 (v1: 192/192) and Fig. 19 (v2: 192/192-224-256), the 8×8 residual block
    (slim block8)."""

    def __init__(self, in_ch: int, c: tuple, scale: float, activate: bool = True,
                 residual: bool = True) -> None:
        b0, b1 = c
        super().__init__(in_ch, [
            ConvBN(in_ch, b0, 1),
            seq(ConvBN(in_ch, b1[0], 1), ConvBN(b1[0], b1[1], (1, 3)),
                ConvBN(b1[1], b1[2], (3, 1))),
        ], b0 + b1[-1], scale, activate, residual)


class ReductionBResNet(Branches):
    """Fig. 12 (v1: 384/256/256) and Fig. 18 (v2: 384/288/320), 17×17 → 8×8 (slim Mixed_7a).

    Fig. 18's caption says "wider Inception-ResNet-v1"; Fig. 15's caption assigns it to v2 (E8).
    """

    def __init__(self, in_ch: int, c: tuple) -> None:
        b0, b1, b2 = c
        super().__init__(
            seq(ConvBN(in_ch, b0[0], 1), ConvBN(b0[0], b0[1], 3, 2, "valid")),
            seq(ConvBN(in_ch, b1[0], 1), ConvBN(b1[0], b1[1], 3, 2, "valid")),
            seq(ConvBN(in_ch, b2[0], 1), ConvBN(b2[0], b2[1], 3),
                ConvBN(b2[1], b2[2], 3, 2, "valid")),
            MaxPool3x3s2(),
            out_channels=b0[-1] + b1[-1] + b2[-1] + in_ch, stride=2)


_STEM = Stage("Fig. 14", StemResNetV1, 1, (32, 32, 64, 80, 192, 256), (35, 256))
_A = Stage("Fig. 10", InceptionResNetA, 5, (32, (32, 32), (32, 32, 32)), (35, 256), scale=0.17)
_RED_A = Stage("Fig. 7", ReductionA, 1, (192, 192, 256, 384), (17, 896))  # Table 1 k, l, m, n
_B = Stage("Fig. 11", InceptionResNetB, 10, (128, (128, 128, 128)), (17, 896), scale=0.10,
           aux=True)
_RED_B = Stage("Fig. 12", ReductionBResNet, 1, ((256, 384), (256, 256), (256, 256, 256)),
               (8, 1792))
_C = Stage("Fig. 13", InceptionResNetC, 5, (192, (192, 192, 192)), (8, 1792), scale=0.20)

# Fig. 15 with the v1 blocks: 5 / 10 / 5 residual blocks, average pool, 1000-way softmax.
# The paper only says "scaling factors between 0.1 and 0.3"; 0.17 / 0.10 / 0.20 are the
# released models' values (E11).
INCEPTION_RESNET_V1 = NetSpec(
    name="inception_resnet_v1",
    stages=(_STEM, _A, _RED_A, _B, _RED_B, _C),
)

# FaceNet's release (davidsandberg/facenet 20170512-110547): BN without learned scale, a
# sixth C block with scale 1.0 and no ReLU (E10), and a 128-d embedding head; 160×160 faces.
INCEPTION_RESNET_V1_FACENET = NetSpec(
    name="inception_resnet_v1_facenet",
    stages=(_STEM, _A, _RED_A, _B, _RED_B, _C,
            Stage("Fig. 13", InceptionResNetC, 1, (192, (192, 192, 192)), (8, 1792), scale=1.0,
                  activate=False, note="FaceNet's extra final block: scale 1.0, no ReLU")),
    head="embedding",
    num_classes=128,
    bn_scale=False,
    pretrained_cfg=FACENET_CFG,  # 160×160 aligned faces, per-image standardisation
)
