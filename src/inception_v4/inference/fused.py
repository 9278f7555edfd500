"""Inference graph: BatchNorm folded into the convolutions, ReLU and residual sums fused.

:func:`fuse` (the first step of :func:`inception_v4.optimize_for_inference`) rewrites a copy
of a network in place of its layers:

* every ``ConvBN`` becomes a :class:`FusedConv` (conv with the BN folded into weight and
  bias, ReLU applied by the convolution itself: a oneDNN post-op on CPU);
* every residual block becomes a :class:`FusedResidual`: its scale is folded into the
  linear 1×1 projection and ``x + scale · project(…)`` (and the ReLU after it) is computed
  by the projection's convolution as a binary post-op;
* in each block, the average-pool branch ``pool → 1×1 conv`` is reordered to
  ``1×1 conv → pool`` (both linear, the pool excludes padding so its weights sum to 1):
  the pool then runs on the branch's few output channels instead of all input channels;
* dropout becomes identity, FaceNet's BatchNorm1d is folded into the embedding layer.

Names of the unchanged modules (stem, stages, head) are kept, so ``forward_features``,
``feature_info`` and friends work on the result.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import AvgPool3x3, ConvBN
from ..models.heads import EmbeddingHead
from ..models.inception_resnet_v1 import Residual
from ..models.training_layout import is_pool_branch


def _mkldnn_ok(x: torch.Tensor) -> bool:
    """True where the oneDNN fused-convolution ops can run: CPU fp32 (bf16 where the CPU has
    oneDNN's bf16 kernels), no autograd, not under torch.compile (which cannot trace them; it
    fuses the plain ops itself)."""
    dtype_ok = x.dtype == torch.float32 or (x.dtype == torch.bfloat16 and HAS_BF16)
    return (x.device.type == "cpu" and dtype_ok and _HAS_POINTWISE
            and not (torch.is_grad_enabled() and x.requires_grad)
            and not torch.compiler.is_compiling())


def _has_pointwise() -> bool:
    try:
        return (torch.backends.mkldnn.is_available()
                and hasattr(torch.ops.mkldnn, "_convolution_pointwise"))
    except (AttributeError, RuntimeError):  # an op namespace without the op raises
        return False


def _has_bf16() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


_HAS_POINTWISE = _has_pointwise()
HAS_BF16 = _has_bf16()  # AVX512-BF16 / AMX; elsewhere bf16 runs through aten's kernels
DTYPES = (torch.float32, torch.bfloat16)


class FusedConv(nn.Module):
    """``act(conv(x) + bias)`` with BatchNorm folded in; ``relu`` picks the activation.

    On CPU the convolution is oneDNN's with the ReLU (or the residual sum, :meth:`add`) as a
    post-op, so the activation costs no extra pass over memory. (Prepacking the weight into
    oneDNN's blocked layout was measured too: no gain here, twice the weight memory.)
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, stride: tuple, padding: tuple,
                 relu: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight, requires_grad=False)
        self.bias = nn.Parameter(bias, requires_grad=False)
        self.stride, self.padding, self.relu = list(stride), list(padding), relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != self.weight.dtype:  # fp32 images into a bf16 graph
            x = x.to(self.weight.dtype)  # (no node in an exported float32 graph: PT2E)
        if _mkldnn_ok(x):
            return torch.ops.mkldnn._convolution_pointwise(
                x, self.weight, self.bias, self.padding, self.stride, [1, 1], 1,
                "relu" if self.relu else "none", [], "")
        y = F.conv2d(x, self.weight, self.bias, self.stride, self.padding)
        return y.relu_() if self.relu else y

    def add(self, x: torch.Tensor, other: torch.Tensor, relu: bool) -> torch.Tensor:
        """``act(conv(x) + bias + other)``: the residual sum as the convolution's post-op."""
        if _mkldnn_ok(x):
            return torch.ops.mkldnn._convolution_pointwise.binary(
                x, other, self.weight, self.bias, self.padding, self.stride, [1, 1], 1,
                "add", None, "relu" if relu else None, [], "")
        y = F.conv2d(x, self.weight, self.bias, self.stride, self.padding) + other  # PT2E's
        # conv + add pattern is the out-of-place add
        return y.relu_() if relu else y

    def extra_repr(self) -> str:
        o, i, kh, kw = self.weight.shape
        return f"{i}, {o}, kernel=({kh}, {kw}), stride={self.stride}, relu={self.relu}"


def _bn_affine(bn: nn.modules.batchnorm._BatchNorm) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode BatchNorm as ``x · scale + shift`` (float64; no learned scale counts as 1)."""
    var, mean = bn.running_var.double(), bn.running_mean.double()
    gamma = bn.weight.double() if bn.weight is not None else torch.ones_like(var)
    beta = bn.bias.double() if bn.bias is not None else torch.zeros_like(var)
    scale = gamma / torch.sqrt(var + bn.eps)
    return scale, beta - mean * scale


@torch.no_grad()
def fold_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of ``bn(conv(x))`` as one convolution (folded in float64)."""
    scale, shift = _bn_affine(bn)
    bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(scale)
    w = conv.weight.double() * scale.view(-1, 1, 1, 1)
    return w.to(conv.weight.dtype), (bias * scale + shift).to(conv.weight.dtype)


def fuse_conv_bn(unit: ConvBN) -> FusedConv:
    """One ``ConvBN`` (conv → BN → ReLU) as one :class:`FusedConv`."""
    w, b = fold_bn(unit.conv, unit.bn)
    return FusedConv(w, b, unit.conv.stride, unit.conv.padding, relu=True)


class PoolAfterConv(nn.Module):
    """``relu(avgpool(conv_1×1(x)) + b)``, equal to ``relu(conv_1×1(avgpool(x)) + b)``: the
    training layout's :class:`~inception_v4.models.training_layout.PoolBranch` order (why the
    two commute is said there), with the BatchNorm folded into the convolution."""

    def __init__(self, pool: AvgPool3x3, unit: ConvBN) -> None:
        super().__init__()
        w, b = fold_bn(unit.conv, unit.bn)
        self.conv = FusedConv(w, b, (1, 1), (0, 0), relu=False)  # pool(y + b) = pool(y) + b
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(x)).relu_()


class FusedResidual(nn.Module):
    """``act(x + project(concat(branches(x))))`` with Fig. 20's scale folded in ``project``."""

    def __init__(self, block: Residual) -> None:
        super().__init__()
        self.branches = block.branches
        w, b = block.project.weight.detach(), block.project.bias.detach()
        scale = block.scale if block.residual else 1.0
        self.project = FusedConv(w * scale, b * scale, (1, 1), (0, 0), relu=block.activate)
        self.residual, self.activate = block.residual, block.activate
        self.out_channels, self.stride = block.out_channels, 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cat = torch.cat([b(x) for b in self.branches], 1)
        if not self.residual:
            return self.project(cat)
        return self.project.add(cat, x, relu=self.activate)


class Float32Linear(nn.Linear):
    """The classifier (or embedding) layer of a bf16 graph: computes in the graph's dtype,
    returns float32 logits."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x.to(self.weight.dtype), self.weight, self.bias).float()


def _float32_out(head: nn.Module) -> None:
    fc = getattr(head, "fc", None)
    if isinstance(fc, nn.Linear):
        out = Float32Linear(fc.in_features, fc.out_features, bias=fc.bias is not None,
                            device=fc.weight.device, dtype=fc.weight.dtype)  # the model's
        out.load_state_dict(fc.state_dict())
        head.fc = out


def _fold_embedding(head: EmbeddingHead) -> None:
    """FaceNet's ``bn1d(fc(x))`` (eval statistics) as one linear layer with a bias."""
    scale, shift = _bn_affine(head.bn)
    fc = head.fc
    linear = nn.Linear(fc.in_features, fc.out_features, bias=True)
    linear.weight.data = (fc.weight.double() * scale[:, None]).to(fc.weight.dtype)
    linear.bias.data = shift.to(fc.weight.dtype)
    head.fc, head.bn = linear, nn.Identity()


@torch.no_grad()
def _rewrite(module: nn.Module) -> None:
    """Replace, recursively and in place, every child that has a fused form."""
    for name, child in module.named_children():
        if isinstance(child, ConvBN):
            setattr(module, name, fuse_conv_bn(child))
            continue
        if is_pool_branch(child):
            setattr(module, name, PoolAfterConv(child[0], child[1]))
            continue
        if isinstance(child, nn.Dropout):
            setattr(module, name, nn.Identity())
            continue
        if isinstance(child, EmbeddingHead) and isinstance(child.bn, nn.BatchNorm1d):
            _fold_embedding(child)
        _rewrite(child)
        if isinstance(child, Residual):
            setattr(module, name, FusedResidual(child))


def fuse(model: nn.Module, channels_last: bool = True,
         dtype: torch.dtype = torch.float32) -> nn.Module:
    """An eval-mode copy of ``model`` with BatchNorm folded and conv/ReLU/sum fused.

    Outputs match the unfused model in eval mode to fp32 rounding (tested within 1e-4).
    ``channels_last=True`` stores the weights NHWC, the layout oneDNN convolves fastest on
    CPU; inputs in either layout are accepted. ``dtype=torch.bfloat16`` computes in bf16:
    BatchNorm is folded in float64, then the weights are cast; the model still takes float32
    images and returns float32 outputs (logits within about 1e-2, tested). The original model
    is left untouched. The result is for inference only (no gradients, no training-mode BN).
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"optimize_for_inference expects an nn.Module, got {type(model)}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be torch.float32 or torch.bfloat16, got {dtype}")
    fused = copy.deepcopy(model).eval()
    _rewrite(fused)
    if dtype != torch.float32:
        fused = fused.to(dtype)
        if hasattr(fused, "head"):
            _float32_out(fused.head)
    if channels_last:
        fused = fused.to(memory_format=torch.channels_last)
    for p in fused.parameters():
        p.requires_grad_(False)
    return fused
