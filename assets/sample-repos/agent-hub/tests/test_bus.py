import asyncio

import pytest

from conductor.events.bus import EventBus, Overflow
from conductor.events.models import Event, topic_matches
from conductor.events.store import EventLog


@pytest.mark.parametrize("pattern,topic,expected", [
    ("agent.*", "agent.started", True),
    ("agent.*", "agent.pack.installed", False),
    ("agent.#", "agent.pack.installed", True),
    ("#", "anything.at.all", True),
    ("agent.#.done", "agent.done", True),
    ("pack.*.installed", "pack.web.removed", False),
])
def test_topic_matching(pattern, topic, expected):
    assert topic_matches(pattern, topic) is expected


def test_wildcards_refused_in_events():
    with pytest.raises(ValueError):
        Event(topic="agent.*")


def test_publish_reaches_matching_subscribers_only():
    async def scenario():
        bus = EventBus()
        seen: list[str] = []

        async def record(event):
            seen.append(event.topic)

        bus.subscribe("agent.*", record)
        await bus.emit("agent.started")
        await bus.emit("pack.installed")
        await bus.join()
        await bus.close()
        return seen

    assert asyncio.run(scenario()) == ["agent.started"]


def test_drop_oldest_keeps_the_newest_events():
    async def scenario():
        bus = EventBus()
        gate = asyncio.Event()
        got: list[int] = []

        async def slow(event):
            await gate.wait()
            got.append(event.payload["n"])

        sub = bus.subscribe("tick", slow, queue_size=2, overflow=Overflow.DROP_OLDEST)
        for n in range(6):
            await bus.emit("tick", n=n)
        gate.set()
        await bus.join()
        await bus.close()
        return got, sub.dropped

    got, dropped = asyncio.run(scenario())
    assert got[-2:] == [4, 5]
    assert dropped >= 3


def test_request_reply_and_trace():
    async def scenario():
        bus = EventBus()
        log = EventLog()
        bus.subscribe("#", log.record)

        async def answer(event):
            await bus.publish(event.reply("math.done", {"sum": sum(event.payload["xs"])}))

        bus.subscribe("math.add", answer)
        request = Event(topic="math.add", payload={"xs": [1, 2, 3]})
        reply = await bus.request(request, "math.done", timeout=1)
        await bus.join()
        await bus.close()
        return reply, log.trace(request.id)

    reply, trace = asyncio.run(scenario())
    assert reply.payload == {"sum": 6}
    assert [e.topic for e in trace] == ["math.add", "math.done"]
