"""The serving engine without HTTP, on the embedded SmolLM2 GGUF: slots chosen by the prefix their cache holds, the
bounded queue (Busy when full, a waiter that goes away leaves it; a slot that comes free goes to the waiter its cache
suits, unless someone waited too long), and cancellation freeing a slot."""
from __future__ import annotations

import asyncio
import threading

import pytest

from app.serve.catalog import ServedModel
from app.serve.engine import Busy, EngineOptions, Pool


@pytest.fixture(scope="module")
def model():
    from app.forks import embedded_gguf

    path = embedded_gguf("smollm2-135m")
    return ServedModel(id="forkies/smollm2-135m-instruct@v1.0.0", path=str(path), sha256="-", quant_type="q4_1",
                       size_bytes=path.stat().st_size, created=0)


FILE_A, FILE_B = "def read_config(path):\n", "class Stack:\n    def push(self, x):\n"  # two editors' files


def on_runner(model, scenario, queue: int = 4) -> None:
    """Run `scenario(runner)` on a fresh two-slot pool of the model; the pool is closed afterwards."""
    async def main():
        pool = Pool([model], EngineOptions(slots=2, n_ctx=1024, queue=queue, threads=1))
        try:
            await scenario(await pool.runner(model.id))
        finally:
            pool.close()

    asyncio.run(main())


def test_slot_affinity_queue_and_cancel(model):
    async def scenario(runner):
        file_a, file_b = FILE_A * 8, FILE_B * 8
        a = await runner.acquire(file_a)
        b = await runner.acquire(file_b)
        assert a is not b and runner.active == 2
        runner.release(a)
        runner.release(b)
        # the next keystroke in file B goes to the slot that holds file B, whatever the order of the free list
        assert await runner.acquire(file_b + "    ") is b
        assert await runner.acquire(file_a + "x") is a
        # both busy: one request may wait, the next is refused
        waiter = asyncio.ensure_future(runner.acquire("z"))
        await asyncio.sleep(0)
        assert runner.waiting == 1
        with pytest.raises(Busy):
            await runner.acquire("y")
        waiter.cancel()  # the client went away: it leaves the queue
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert runner.waiting == 0
        runner.release(b)
        # a generation on slot a, cancelled from outside while it runs, frees the slot at once
        cancel = threading.Event()
        pieces = []

        def on_text(text):
            pieces.append(text)
            if len(pieces) == 2:
                cancel.set()

        job = runner.run(a, lambda backend: backend.complete("1, 2, 3, 4, 5, 6, 7,", max_tokens=500,
                                                             on_text=on_text, cancel=cancel))
        done = await job
        assert done.stopped_by == "cancelled" and done.tokens < 10
        await asyncio.sleep(0)
        assert runner.active == 0 and len(runner.free) == 2

    on_runner(model, scenario, queue=1)


def test_a_freed_slot_goes_to_the_waiter_whose_file_it_holds(model, monkeypatch):
    from app.serve import engine

    async def scenario(runner):
        file_a, file_b = FILE_A * 8, FILE_B * 8
        a, b = await runner.acquire(file_a), await runner.acquire(file_b)
        # both busy: the next keystroke in file A queues first, then one in file B
        wait_a = asyncio.ensure_future(runner.acquire(file_a + "x"))
        wait_b = asyncio.ensure_future(runner.acquire(file_b + "y"))
        await asyncio.sleep(0)
        assert runner.waiting == 2
        runner.release(b)  # the slot holding file B goes to B's keystroke, though A's came first
        assert await asyncio.wait_for(wait_b, 5) is b and not wait_a.done()
        runner.release(b)
        assert await asyncio.wait_for(wait_a, 5) is b  # no other waiter: A takes what comes free
        # a waiter older than FAIR_WAIT_S is served first, whatever the slot holds
        monkeypatch.setattr(engine, "FAIR_WAIT_S", 0.0)
        wait_a2 = asyncio.ensure_future(runner.acquire(file_a + "xx"))
        await asyncio.sleep(0.01)
        wait_b2 = asyncio.ensure_future(runner.acquire(file_b + "yy"))
        await asyncio.sleep(0)
        runner.release(a)
        assert await asyncio.wait_for(wait_a2, 5) is a and not wait_b2.done()
        wait_b2.cancel()

    on_runner(model, scenario)


def test_a_busy_slot_holding_the_file_is_waited_for_briefly(model, monkeypatch):
    from app.serve import engine

    async def scenario(runner):
        file_a, file_b = FILE_A * 60, FILE_B * 60
        b = await runner.acquire(file_b)
        a = await runner.acquire(file_a)
        runner.release(b)  # b is free (holding file B); a still runs the previous keystroke in file A
        nxt = asyncio.ensure_future(runner.acquire(file_a + "x"))
        await asyncio.sleep(0.05)
        assert not nxt.done() and runner.waiting == 1  # it waits for a rather than evaluate file A cold on b
        other = await asyncio.wait_for(runner.acquire(file_b + "y"), 5)  # b stays free for B's keystroke
        assert other is b
        runner.release(a)
        assert await asyncio.wait_for(nxt, 5) is a
        # a slot that stays busy is waited for AFFINITY_WAIT_S at most, then a free one is taken
        monkeypatch.setattr(engine, "AFFINITY_WAIT_S", 0.2)
        runner.release(b)
        assert await asyncio.wait_for(runner.acquire(file_a + "xx"), 5) is b

    on_runner(model, scenario)


def test_memory_budget_unloads_the_least_recently_used(model):
    twin = ServedModel(id="internal/coder/v1", path=model.path, sha256="-", quant_type="q4_1",
                       size_bytes=model.size_bytes, created=0)
    logged = []

    async def scenario():
        options = EngineOptions(slots=1, n_ctx=1024, threads=1)
        one = Pool([model], options).cost(model)
        pool = Pool([model, twin], EngineOptions(slots=1, n_ctx=1024, threads=1, budget_bytes=int(one * 1.5)),
                    log=logged.append)
        try:
            first = await pool.runner(model.id)
            slot = await first.acquire("x")
            with pytest.raises(Busy):  # the only model that could make room is busy
                await pool.runner(twin.id)
            first.release(slot)
            await pool.runner(twin.id)
            assert list(pool.runners) == [twin.id]
        finally:
            pool.close()

    asyncio.run(scenario())
    assert any("least recently used" in line for line in logged)
    with pytest.raises(Exception, match="memory budget"):
        Pool([model], EngineOptions(n_ctx=1024, budget_bytes=1 << 20))
