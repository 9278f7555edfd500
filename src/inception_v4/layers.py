"""The few layer types every figure of the paper is drawn with.

Facts (see ``docs/checkpoints.md``, "Layer facts"): a convolution before BatchNorm has no
bias; BN epsilon is 1e-3 (TensorFlow's); every stride-2 op is unpadded ("V" in the figures);
every "same" op has stride 1 and an odd kernel, so symmetric padding ``k // 2`` reproduces
TensorFlow exactly; the 3×3 average pools exclude padded cells, as TensorFlow does.
"""

from __future__ import annotations

import torch
from torch import nn

BN_EPS = 1e-3


def seq(*layers: nn.Module) -> nn.Sequential:
    """One branch: layers applied in order (bottom to top in the figures)."""
    return nn.Sequential(*layers)


def _pair(k: int | tuple[int, int]) -> tuple[int, int]:
    return (k, k) if isinstance(k, int) else tuple(k)  # type: ignore[return-value]


class ShiftBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm with a learned shift (beta) and no learned scale (gamma fixed at 1).

    This is TF-slim's ``batch_norm(scale=False)``, the form FaceNet was trained with.
    """

    def __init__(self, channels: int, eps: float = BN_EPS) -> None:
        super().__init__(channels, eps=eps, affine=False)
        self.bias = nn.Parameter(torch.zeros(channels))

    def _check_input_dim(self, input: torch.Tensor) -> None:
        # torch._assert, not `if`: torch.fx traces through this module (not torch.nn's own)
        torch._assert(input.dim() == 4, "ShiftBatchNorm2d expects a 4-d input (N, C, H, W)")


class ShiftBatchNorm1d(nn.BatchNorm1d):
    """1-d BatchNorm with a learned shift and no learned scale (FaceNet's embedding BN)."""

    def __init__(self, channels: int, eps: float = BN_EPS) -> None:
        super().__init__(channels, eps=eps, affine=False)
        self.bias = nn.Parameter(torch.zeros(channels))

    def _check_input_dim(self, input: torch.Tensor) -> None:
        torch._assert(input.dim() == 2, "ShiftBatchNorm1d expects a 2-d input (N, C)")


class ConvBN(nn.Module):
    """conv (no bias) → BatchNorm (eps 1e-3) → ReLU; the unit box of every figure.

    ``padding="same"`` is only used with stride 1 and odd kernels, ``"valid"`` is no padding.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int | tuple[int, int],
        stride: int = 1,
        padding: str = "same",
    ) -> None:
        super().__init__()
        kh, kw = _pair(kernel)
        if padding == "same" and stride != 1:
            raise ValueError("'same' padding is only used with stride 1 in these networks")
        pad = (kh // 2, kw // 2) if padding == "same" else (0, 0)
        self.conv = nn.Conv2d(in_ch, out_ch, (kh, kw), stride, pad, bias=False)
        self.bn = nn.BatchNorm2d(out_ch, eps=BN_EPS)  # FaceNet's: ShiftBatchNorm2d (no scale)
        self.act = nn.ReLU(inplace=True)
        self.out_channels = out_ch
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class Branches(nn.Module):
    """Parallel branches applied to one input; outputs concatenated on channels.

    This is the "Filter concat" box of the figures. ``out_channels`` is given by the caller,
    which knows which branch is a pool (a pool passes its input channels through).
    """

    stride = 1

    def __init__(self, *branches: nn.Module, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.out_channels = out_channels
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([b(x) for b in self.branches], 1)


class MaxPool3x3s2(nn.MaxPool2d):
    """"3×3 MaxPool (stride 2 V)": passes its input channels through."""

    def __init__(self) -> None:
        super().__init__(kernel_size=3, stride=2)
        self.stride = 2


class AvgPool3x3(nn.AvgPool2d):
    """"Avg Pooling" in the Inception blocks: 3×3, stride 1, same padding, padding excluded."""

    def __init__(self) -> None:
        super().__init__(kernel_size=3, stride=1, padding=1, count_include_pad=False)
