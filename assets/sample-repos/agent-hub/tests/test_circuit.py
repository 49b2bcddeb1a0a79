import asyncio

import pytest

from conductor.async_utils.circuit import BreakerBoard, CircuitBreaker, CircuitOpen, State


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def fail() -> None:
    raise ConnectionError("down")


async def succeed() -> str:
    return "ok"


def test_opens_after_consecutive_failures_and_fails_fast():
    clock = FakeClock()
    breaker = CircuitBreaker("model-api", failure_threshold=3, reset_after=10, clock=clock)

    async def scenario():
        for _ in range(3):
            with pytest.raises(ConnectionError):
                await breaker.call(fail)
        assert breaker.state is State.OPEN
        with pytest.raises(CircuitOpen) as info:
            await breaker.call(succeed)
        assert info.value.retry_in == pytest.approx(10)
        assert breaker.stats.rejected == 1

    asyncio.run(scenario())


def test_half_open_trial_closes_or_reopens():
    clock = FakeClock()
    breaker = CircuitBreaker("registry", failure_threshold=1, reset_after=5, clock=clock)

    async def scenario():
        with pytest.raises(ConnectionError):
            await breaker.call(fail)
        clock.now = 5
        with pytest.raises(ConnectionError):
            await breaker.call(fail)          # the trial fails: open again, for another 5 s
        assert breaker.state is State.OPEN and breaker.stats.opened == 2
        clock.now = 10
        assert await breaker.call(succeed) == "ok"
        assert breaker.state is State.CLOSED and breaker.consecutive == 0

    asyncio.run(scenario())


def test_board_keeps_one_breaker_per_dependency():
    board = BreakerBoard(failure_threshold=1, reset_after=60)

    async def scenario():
        with pytest.raises(ConnectionError):
            await board.call("webhooks", fail)
        assert await board.call("packs", succeed) == "ok"

    asyncio.run(scenario())
    assert board.open_circuits() == ["webhooks"]
    assert board.get("webhooks") is board.get("webhooks")
