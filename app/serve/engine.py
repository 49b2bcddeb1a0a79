"""Loaded models, their slots and the queue in front of them.

A model is loaded as one llama.cpp context per slot (eval.llama_backend.LlamaBackend, which keeps the prefix a
request shares with the previous one in the slot's KV cache). Each slot has its own thread: llama.cpp calls block,
so they never run on the event loop. A request waits for a free slot in a FIFO queue bounded per model; a full
queue is refused at once (Busy, which the API answers 503 with Retry-After). Models are loaded on first use and the
least recently used idle one is unloaded when a load would pass the memory budget.
"""
from __future__ import annotations

import asyncio
import functools
import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

from app.errors import StudioError
from app.serve.catalog import ServedModel


class Busy(Exception):
    """No capacity now; the client should retry after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int = 1):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class EngineOptions:
    slots: int = 1
    n_ctx: int = 4096
    threads: int | None = None
    queue: int = 16
    budget_bytes: int = 8 << 30
    prefill_chunk: int = 256
    llama: dict = field(default_factory=dict)  # passed to llama_cpp.Llama (n_batch, n_ubatch, flash_attn...)


def gguf_shape(path: str) -> dict:
    """{kv_per_token: bytes of F16 K and V cache per token (0 when the metadata does not say), context_length}."""
    from export.errors import ExportError
    from export.gguf_header import scalars

    try:
        meta = scalars(path)
    except ExportError as exc:
        raise StudioError(str(exc)) from None
    value = meta.get

    arch = value("general.architecture")
    layers, embd = value(f"{arch}.block_count"), value(f"{arch}.embedding_length")
    heads = value(f"{arch}.attention.head_count")
    kv_heads = value(f"{arch}.attention.head_count_kv") or heads
    context = value(f"{arch}.context_length")
    if not (layers and embd and heads):
        return {"kv_per_token": 0, "context_length": context}
    head_dim = value(f"{arch}.attention.key_length") or embd // heads
    return {"kv_per_token": 2 * int(layers) * int(kv_heads) * int(head_dim) * 2, "context_length": context}


class Slot:
    def __init__(self, backend, name: str):
        self.backend = backend
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self.last_prompt = ""  # what its KV cache holds (about): the text of the last prompt it ran

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        self.backend.close()


FAIR_WAIT_S = 2.0  # a waiting request older than this is served first, whatever the slot's cache holds
AFFINITY_MIN_CHARS = 1024  # a busy slot holding this much more of a prompt than any free one is worth waiting for...
AFFINITY_WAIT_S = 1.0  # ...this long at most (an abandoned request's cancel is seen within a token or a prompt piece)


def shared_prefix(a: str, b: str) -> int:
    return len(os.path.commonprefix((a, b)))


class Runner:
    """One loaded model: its slots (each a context and a thread) and the queue of requests waiting for one.

    A request takes the free slot whose last prompt shares the longest prefix with its own, so that editors typing
    in different files each keep their file's prefix in a slot's KV cache. A slot that comes free goes to the
    waiting request whose prompt suits its cache best (an editor's next keystroke gets the slot that holds its
    file), unless a request has waited longer than FAIR_WAIT_S: then the oldest goes first, so none starves."""

    def __init__(self, model: ServedModel, slots: list[Slot], queue_limit: int, cost: int):
        self.model = model
        self.slots = slots
        self.queue_limit = queue_limit
        self.cost = cost
        self.free: list[Slot] = list(slots)
        # (future, prompt, when it queued, the one slot it waits for or None)
        self.waiters: deque[tuple[asyncio.Future, str, float, "Slot | None"]] = deque()
        self.last_used = time.monotonic()
        self.fim = slots[0].backend.fim
        self.n_ctx = slots[0].backend.n_ctx

    @property
    def waiting(self) -> int:
        return len(self.waiters)

    @property
    def busy(self) -> bool:
        return bool(self.waiters) or len(self.free) < len(self.slots)

    @property
    def active(self) -> int:
        return len(self.slots) - len(self.free)

    def _take(self, prompt: str) -> Slot:
        slot = max(self.free, key=lambda s: shared_prefix(s.last_prompt, prompt)) if len(self.free) > 1 \
            else self.free[0]
        self.free.remove(slot)
        slot.last_prompt = prompt
        return slot

    async def acquire(self, prompt: str = "") -> Slot:
        """A free slot (the one whose cache suits the prompt best), or raises Busy when the queue is full. When a busy
        slot holds much more of the prompt than any free one (an editor's previous keystroke is still being
        cancelled on the slot holding its file), it is waited for, up to AFFINITY_WAIT_S: a cold prompt evaluation
        on another slot costs seconds on a CPU and evicts another editor's file. Cancel-safe: a waiter that goes
        away leaves the queue, and a slot handed to it is passed on."""
        self.last_used = time.monotonic()
        if self.free:  # (a waiter while a slot is free waits for another, busy slot: see below)
            warm = self._warm_busy_slot(prompt)
            if warm is None or len(self.waiters) >= self.queue_limit:
                return self._take(prompt)
            try:
                return await asyncio.wait_for(self._wait(prompt, warm), AFFINITY_WAIT_S)
            except asyncio.TimeoutError:
                if self.free:
                    return self._take(prompt)
        if len(self.waiters) >= self.queue_limit:
            raise Busy(f"{self.model.id}: {self.active} request(s) running and {self.waiting} waiting; "
                       "the queue is full", retry_after=1)
        return await self._wait(prompt, None)

    def _warm_busy_slot(self, prompt: str) -> Slot | None:
        """The busy slot holding at least AFFINITY_MIN_CHARS more of the prompt than the best free one, if any."""
        busy = [s for s in self.slots if s not in self.free]
        if not busy:
            return None
        best_free = max(shared_prefix(s.last_prompt, prompt) for s in self.free)
        slot = max(busy, key=lambda s: shared_prefix(s.last_prompt, prompt))
        return slot if shared_prefix(slot.last_prompt, prompt) - best_free >= AFFINITY_MIN_CHARS else None

    async def _wait(self, prompt: str, prefer: Slot | None) -> Slot:
        """Queue for a slot (`prefer`: only that one); release() hands it over."""
        fut = asyncio.get_running_loop().create_future()
        entry = (fut, prompt, time.monotonic(), prefer)
        self.waiters.append(entry)
        try:
            return await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release(fut.result())
            elif entry in self.waiters:
                self.waiters.remove(entry)
            raise

    def run(self, slot: Slot, fn: Callable, *args, **kwargs) -> asyncio.Future:
        """Run fn(slot.backend, ...) in the slot's thread; the slot is free again when that call returns (not when
        its awaiter goes away), so an abandoned request holds it only until its cancel is noticed."""
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(slot.executor, functools.partial(fn, slot.backend, *args, **kwargs))
        fut.add_done_callback(lambda _f: self.release(slot))
        return fut

    def release(self, slot: Slot) -> None:
        self.last_used = now = time.monotonic()
        # (a waiter that goes away removes itself in _wait; one waiting for another slot is not served here)
        live = [w for w in self.waiters if not w[0].done() and w[3] in (None, slot)]
        if not live:
            self.free.append(slot)
            return
        oldest = live[0]
        chosen = oldest if now - oldest[2] > FAIR_WAIT_S else \
            max(live, key=lambda w: shared_prefix(slot.last_prompt, w[1]))  # ties: the oldest (max keeps the first)
        self.waiters.remove(chosen)
        slot.last_prompt = chosen[1]
        chosen[0].set_result(slot)

    def close(self) -> None:
        for slot in self.slots:
            slot.close()


class Pool:
    """The served models, loaded on demand within the memory budget (least recently used idle model unloaded)."""

    def __init__(self, models: list[ServedModel], options: EngineOptions, log: Callable[[str], None] = lambda m: None):
        if not models:
            raise StudioError("nothing to serve")
        self.models = {m.id: m for m in models}
        self.options = options
        self.log = log
        self.runners: dict[str, Runner] = {}
        self._loading: dict[str, asyncio.Future] = {}
        self._shapes: dict[str, dict] = {}
        for m in models:
            cost = self.cost(m)
            if cost > options.budget_bytes:
                raise StudioError(f"{m.id} needs about {cost / 2**30:.2f} GiB ({options.slots} slot(s) of "
                                  f"{options.n_ctx} tokens), more than the memory budget of "
                                  f"{options.budget_bytes / 2**30:.2f} GiB (--memory-budget)")

    def shape(self, model: ServedModel) -> dict:
        if model.id not in self._shapes:
            self._shapes[model.id] = gguf_shape(model.path)
        return self._shapes[model.id]

    def n_ctx(self, model: ServedModel) -> int:
        """--ctx, or the model's own context length where that is shorter."""
        return min(self.options.n_ctx, int(self.shape(model)["context_length"] or self.options.n_ctx))

    def cost(self, model: ServedModel) -> int:
        """Estimated bytes when loaded: the weights and each slot's KV cache (and compute buffers, ~10%)."""
        kv = self.shape(model)["kv_per_token"] * self.n_ctx(model)
        return int((model.size_bytes + kv * self.options.slots) * 1.1)

    @property
    def loaded_bytes(self) -> int:
        return sum(r.cost for r in self.runners.values())

    def _load_blocking(self, model: ServedModel) -> list[Slot]:
        from eval.backends import BackendError
        from eval.llama_backend import LlamaBackend

        slots = []
        # the cores are shared between the slots unless --threads says otherwise
        threads = self.options.threads or max(1, (os.cpu_count() or 1) // self.options.slots)
        try:
            for i in range(self.options.slots):
                backend = LlamaBackend(model.path, n_ctx=self.n_ctx(model), n_threads=threads,
                                       prefill_chunk=self.options.prefill_chunk, **self.options.llama)
                slots.append(Slot(backend, f"slot-{i}"))
        except BackendError as exc:
            for slot in slots:
                slot.close()
            raise StudioError(str(exc)) from None
        return slots

    async def runner(self, model_id: str) -> Runner:
        """The loaded runner of a served model, loading it (and unloading others) when needed."""
        runner = self.runners.get(model_id)
        if runner is not None:
            return runner
        pending = self._loading.get(model_id)
        if pending is not None:
            return await asyncio.shield(pending)
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._loading[model_id] = fut
        try:
            model = self.models[model_id]
            await self._make_room(self.cost(model))
            started = time.monotonic()
            slots = await loop.run_in_executor(None, self._load_blocking, model)
            runner = Runner(model, slots, self.options.queue, self.cost(model))
            self.runners[model_id] = runner
            self.log(f"loaded {model_id} ({model.quant_type}, {self.options.slots} slot(s)) in "
                     f"{time.monotonic() - started:.1f} s")
            fut.set_result(runner)
            return runner
        except BaseException as exc:
            fut.set_exception(exc)
            fut.exception()  # retrieved: waiters re-raise it, nobody else needs to
            raise
        finally:
            del self._loading[model_id]

    async def _make_room(self, needed: int) -> None:
        while self.runners and self.loaded_bytes + needed > self.options.budget_bytes:
            idle = [r for r in self.runners.values() if not r.busy]
            if not idle:
                raise Busy("the memory budget is taken by models that are all busy", retry_after=2)
            victim = min(idle, key=lambda r: r.last_used)
            del self.runners[victim.model.id]
            await asyncio.get_running_loop().run_in_executor(None, victim.close)
            self.log(f"unloaded {victim.model.id} (least recently used) to stay within the memory budget")

    def close(self) -> None:
        for runner in list(self.runners.values()):
            runner.close()
        self.runners.clear()

    def status(self) -> dict:
        return {"loaded": [{"id": r.model.id, "slots": len(r.slots), "active": r.active, "waiting": r.waiting}
                           for r in self.runners.values()],
                "loaded_bytes": self.loaded_bytes, "budget_bytes": self.options.budget_bytes}
