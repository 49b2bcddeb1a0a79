"""Running many coroutines with a bound: `gather_limited` for a batch, `WorkerPool` for a stream of work."""
from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Outcome:
    index: int
    value: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


async def gather_limited(factories: Iterable[Callable[[], Awaitable[T]]], limit: int = 8,
                         return_exceptions: bool = False) -> list[Any]:
    """Like asyncio.gather over coroutine factories, with at most `limit` running at a time; results in order."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    semaphore = asyncio.Semaphore(limit)
    factories = list(factories)

    async def one(factory: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await factory()

    return await asyncio.gather(*(one(f) for f in factories), return_exceptions=return_exceptions)


async def map_limited(fn: Callable[[T], Awaitable[R]], items: Iterable[T], limit: int = 8) -> list[Outcome]:
    """Apply `fn` to every item, `limit` at a time; every outcome is reported, failures included."""
    items = list(items)
    outcomes = [Outcome(i) for i in range(len(items))]
    semaphore = asyncio.Semaphore(limit)

    async def one(i: int, item: T) -> None:
        async with semaphore:
            try:
                outcomes[i].value = await fn(item)
            except Exception as exc:
                outcomes[i].error = exc

    await asyncio.gather(*(one(i, item) for i, item in enumerate(items)))
    return outcomes


class WorkerPool:
    """A fixed number of worker tasks draining a bounded queue of coroutine factories."""

    def __init__(self, workers: int = 4, max_queued: int = 100):
        self._queue: asyncio.Queue[tuple[Callable[[], Awaitable[Any]], asyncio.Future]] = asyncio.Queue(max_queued)
        self._workers = [asyncio.create_task(self._work(i), name=f"pool-{i}") for i in range(workers)]
        self.completed = 0
        self.failed = 0

    async def submit(self, factory: Callable[[], Awaitable[T]]) -> "asyncio.Future[T]":
        """Queue work (waiting for room when the queue is full); the future resolves with its result."""
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        await self._queue.put((factory, future))
        return future

    async def run(self, factory: Callable[[], Awaitable[T]]) -> T:
        return await (await self.submit(factory))

    async def _work(self, index: int) -> None:
        while True:
            factory, future = await self._queue.get()
            try:
                if future.cancelled():
                    continue
                try:
                    result = await factory()
                except Exception as exc:
                    self.failed += 1
                    if not future.done():
                        future.set_exception(exc)
                else:
                    self.completed += 1
                    if not future.done():
                        future.set_result(result)
            finally:
                self._queue.task_done()

    async def join(self) -> None:
        await self._queue.join()

    async def close(self) -> None:
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> "WorkerPool":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.join()
        await self.close()
