"""Data parallelism: torchrun's environment → process group, device, DDP and sync BN.

Under ``torchrun`` (``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` set) the run joins a process group
(NCCL on GPUs, gloo on CPUs), wraps the model in DistributedDataParallel and splits the
global batch evenly across ranks. Only rank 0 writes files.

``torch.nn.SyncBatchNorm`` only runs on accelerators, so on CPU ``--sync-bn`` uses
:class:`CpuSyncBatchNorm2d`, which all-reduces the batch statistics in the forward pass and
the two gradient sums in the backward pass (float64 reductions).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn

# Where rank 0 announces the port of its worker group's store (see attempt_store).
_GROUP_STORE_KEY = "inception_v4/group_store_port"


@dataclass(frozen=True)
class Dist:
    """Where this process runs: its rank among ``world`` processes and its device."""

    rank: int
    world: int
    local_rank: int
    device: torch.device
    owns_group: bool  # this run created the process group (and destroys it at the end)
    host_group: object = None  # a gloo group for host-side flags next to NCCL (see setup)

    @property
    def main(self) -> bool:
        return self.rank == 0


def pick_device(name: str, local_rank: int = 0, world: int = 1) -> torch.device:
    """``auto`` → ``cuda:LOCAL_RANK`` when a GPU is present, else CPU; ``cuda`` →
    ``cuda:LOCAL_RANK``. Under torchrun (``world > 1``) a ``cuda:N`` other than
    ``cuda:LOCAL_RANK`` would put two ranks on one GPU: a ValueError, as is an index beyond
    the GPUs present."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        name = f"cuda:{local_rank}"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type != "cuda":
        return device
    if not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for but CUDA is not available; use --device cpu")
    count, index = torch.cuda.device_count(), device.index or 0
    if index >= count:
        raise ValueError(f"device {name!r} asked for but this machine has {count} GPU(s) "
                         f"(cuda:0 to cuda:{count - 1}); pick one of those or use --device cuda")
    if world > 1 and index != local_rank:
        raise ValueError(f"--device {name} under torchrun: each process uses cuda:LOCAL_RANK "
                         f"(this one cuda:{local_rank}); pass --device cuda or auto")
    return torch.device("cuda", index)


def launch_rank() -> int:
    """This process's rank as torchrun set it (``RANK``; 0 without torchrun): the one place
    it is read, by :func:`setup` and by the commands that report on rank 0 only."""
    return int(os.environ.get("RANK", "0"))


def setup(device_name: str) -> Dist:
    """Read torchrun's environment, pick the device and join the process group if needed.

    On GPUs the flags every rank must agree on (stop, skip) travel in a second, gloo group
    on CPU tensors, so reading one never waits for the GPU's queue of kernels."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = launch_rank(), int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(device_name, local, world)
    owns, host_group = False, None
    if world > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        backend = "nccl" if device.type == "cuda" else "gloo"
        store = attempt_store(rank, world)
        if store is None:
            dist.init_process_group(backend)
        else:
            dist.init_process_group(backend, store=store, rank=rank, world_size=world)
        owns = True
        host_group = dist.new_group(backend="gloo") if backend == "nccl" else None
    return Dist(rank, world, local, device, owns, host_group)


def attempt_store(rank: int, world: int,
                  timeout: timedelta = timedelta(minutes=30)) -> dist.Store | None:
    """Under torchrun, a fresh store for this worker group, hosted by its rank 0.

    torchrun (c10d rendezvous) shares one TCPStore, owned by the agent, with every worker
    group it starts, and ``init_process_group("env://")`` writes its keys there without an
    attempt prefix. After a ``--max-restarts`` restart a worker can read what a dead worker
    of the previous attempt wrote (its gloo address, NCCL's unique id) and fail to connect
    (pytorch/pytorch#135712; the fix there, a new server per attempt, does not hold on this
    torch: the rendezvous handler keeps its first server). ``TORCHELASTIC_RESTART_COUNT`` is
    no cure: healthy nodes restart without counting. So rank 0 starts a store of its own on
    a free port and announces it on the agent's store; a stale announcement points at a
    dead server, refuses the connection, and is read again. ``None`` outside torchrun.
    """
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True":
        return None
    host = os.environ["MASTER_ADDR"]
    agent = dist.TCPStore(host, int(os.environ["MASTER_PORT"]), world, is_master=False,
                          timeout=timeout)
    if rank == 0:
        own = dist.TCPStore(host, 0, world, is_master=True, timeout=timeout,
                            wait_for_workers=False)
        agent.set(_GROUP_STORE_KEY, str(own.port))
        return own
    deadline = time.monotonic() + timeout.total_seconds()
    while True:
        port = int(agent.get(_GROUP_STORE_KEY))
        try:
            own = dist.TCPStore(host, port, world, is_master=False,
                                timeout=timedelta(seconds=2))
        except RuntimeError:  # DistNetworkError: a previous attempt's store, gone
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
            continue
        own.set_timeout(timeout)
        return own


def teardown(d: Dist) -> None:
    if d.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def _host_tensor(values: list[float], d: Dist) -> torch.Tensor:
    device = "cpu" if d.host_group is not None else d.device
    return torch.tensor(values, dtype=torch.float64, device=device)


def all_sum(values: list[float], d: Dist) -> list[float]:
    """Element-wise sum over ranks (identity on one process)."""
    if d.world == 1:
        return values
    t = _host_tensor(values, d)
    dist.all_reduce(t, group=d.host_group)
    return t.tolist()


def all_max(values: list[float], d: Dist) -> list[float]:
    """Element-wise maximum over ranks (identity on one process)."""
    if d.world == 1:
        return values
    t = _host_tensor(values, d)
    dist.all_reduce(t, op=dist.ReduceOp.MAX, group=d.host_group)
    return t.tolist()


def all_min_max(value: float, d: Dist) -> tuple[float, float]:
    """The smallest and the largest ``value`` over ranks, in one all-reduce."""
    low, high = all_max([-value, value], d)
    return -low, high


def any_flag(flag: bool, d: Dist) -> bool:
    """True on every rank when ``flag`` is true on any (a stop every rank must share)."""
    return bool(all_max([float(flag)], d)[0])


def rank0_flag(flag: bool, d: Dist) -> bool:
    """Rank 0's value of ``flag`` on every rank (decisions all ranks must share)."""
    if d.world == 1:
        return flag
    t = _host_tensor([float(flag)], d)
    dist.broadcast(t, 0, group=d.host_group)
    return bool(t.item())


def wrap(model: nn.Module, d: Dist) -> nn.Module:
    """DistributedDataParallel on more than one process; the model itself otherwise."""
    if d.world == 1:
        return model
    ids = [d.device.index] if d.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def _sum_over_ranks(t: torch.Tensor) -> torch.Tensor:
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(t)
    return t


class _SyncBatchNorm(torch.autograd.Function):
    """Batch norm over the global batch; reductions in float64 (as torch's CPU kernels
    accumulate) so the result matches one process holding the whole batch."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps):  # noqa: ANN001, ANN205
        x64 = x.double()
        count = torch.tensor([x.numel() / x.shape[1]], dtype=torch.float64, device=x.device)
        stats = _sum_over_ranks(torch.cat([x64.sum((0, 2, 3)), count]))
        n, mean = stats[-1], stats[:-1] / stats[-1]
        centred = x64 - mean[None, :, None, None]
        var = _sum_over_ranks(centred.square().sum((0, 2, 3))) / n
        invstd = torch.rsqrt(var + eps)
        y = centred * invstd[None, :, None, None]
        if weight is not None:
            y = y * weight.double()[None, :, None, None] + bias.double()[None, :, None, None]
        ctx.save_for_backward(x, weight, mean, invstd)
        ctx.n = n
        return y.to(x.dtype), mean, var * n / (n - 1).clamp(min=1)

    @staticmethod
    def backward(ctx, dy, _dmean, _dvar):  # noqa: ANN001, ANN205
        x, weight, mean, invstd = ctx.saved_tensors
        xhat = (x.double() - mean[None, :, None, None]) * invstd[None, :, None, None]
        dy64 = dy.double()
        local = torch.cat([dy64.sum((0, 2, 3)), (dy64 * xhat).sum((0, 2, 3))])
        c = x.shape[1]
        dbias, dweight = local[:c], local[c:]
        total = _sum_over_ranks(local.clone()) / ctx.n
        scale = invstd if weight is None else invstd * weight.double()
        dx = scale[None, :, None, None] * (dy64 - total[None, :c, None, None]
                                           - xhat * total[None, c:, None, None])
        if weight is None:
            return dx.to(x.dtype), None, None, None
        return dx.to(x.dtype), dweight.to(weight.dtype), dbias.to(weight.dtype), None


class CpuSyncBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics cover the whole global batch (any device).

    The backward pass all-reduces the two per-channel gradient sums (as torch's
    SyncBatchNorm does); with DDP's gradient averaging this gives the gradient of one
    process seeing the whole batch.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        y, mean, var = _SyncBatchNorm.apply(x, self.weight, self.bias, self.eps)
        if self.track_running_stats:
            self._update_running(mean.to(x.dtype), var.to(x.dtype))
        return y

    @torch.no_grad()
    def _update_running(self, mean: torch.Tensor, var: torch.Tensor) -> None:
        self.num_batches_tracked.add_(1)
        m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
        self.running_mean.lerp_(mean, m)
        self.running_var.lerp_(var, m)


def convert_sync_bn(model: nn.Module, device: torch.device) -> nn.Module:
    """Every plain BatchNorm2d → sync BN (torch's on GPUs, ours on CPU), state kept.

    Subclasses (FaceNet's shift-only BN) are left as they are."""
    cls = nn.SyncBatchNorm if device.type == "cuda" else CpuSyncBatchNorm2d
    for name, child in model.named_children():
        if type(child) is nn.BatchNorm2d:
            new = cls(child.num_features, child.eps, child.momentum, child.affine,
                      child.track_running_stats)
            new.load_state_dict(child.state_dict())
            setattr(model, name, new.to(child.running_mean.device))
        else:
            convert_sync_bn(child, device)
    return model
