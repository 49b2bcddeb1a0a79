"""Data parallel training under torchrun: process group setup and the gradient all-reduce.

Only the LoRA parameters train, so instead of wrapping the model in DistributedDataParallel (which syncs every
micro batch unless told otherwise) each process accumulates its share of the step's micro batches and the
flattened LoRA gradients are summed once per optimizer step. The loss is normalised by the step's target-token
count over all processes, so the summed gradient equals the one-process gradient of the same effective batch.

Bases that do not fit one GPU need the frozen weights sharded (FSDP with `use_orig_params=True`, LoRA
parameters kept in fp32, wrapping per decoder layer); that path is not built here, see docs/training.md.
"""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup(device: str) -> Dist:
    """Join the process group torchrun describes in the environment (nothing to do for one process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch
    import torch.distributed as dist

    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device == "cuda":
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device == "cuda" else "gloo")
    return Dist(rank, world, local)


def teardown(d: Dist) -> None:
    if d.enabled:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def all_reduce_sum(d: Dist, value: float, device) -> float:
    if not d.enabled:
        return value
    import torch
    import torch.distributed as dist

    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item())


def all_reduce_grads(d: Dist, params: list) -> None:
    """Sum the gradients of `params` over all processes, in one flattened buffer."""
    if not d.enabled:
        return
    import torch
    import torch.distributed as dist

    grads = [p.grad for p in params if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def any_flag(d: Dist, flag: bool) -> bool:
    """True on every process when any process has the flag (cancel must stop all of them at the same step)."""
    if not d.enabled:
        return flag
    return all_reduce_sum(d, 1.0 if flag else 0.0, "cpu" if _backend_is_gloo() else "cuda") > 0


def gather_objects(d: Dist, obj) -> list:
    if not d.enabled:
        return [obj]
    import torch.distributed as dist

    out = [None] * d.world
    dist.all_gather_object(out, obj)
    return out


def _backend_is_gloo() -> bool:
    import torch.distributed as dist

    return dist.get_backend() == "gloo"
