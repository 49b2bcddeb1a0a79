from conductor.events.filters import Deduplicator, Throttle, all_of, from_source, not_from, payload_equals, topic
from conductor.events.models import Event


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_predicates_compose():
    event = Event(topic="tool.called", payload={"tool": "search"}, source="planner")
    assert all_of(topic("tool.*"), from_source("planner"), payload_equals("tool", "search"))(event)
    assert not not_from("planner")(event)
    assert not all_of(topic("tool.*"), payload_equals("tool", "fetch"))(event)


def test_deduplicator_forgets_after_the_window():
    clock = Clock()
    dedup = Deduplicator(window=10, key=lambda e: e.payload["job"], clock=clock)
    first = Event(topic="schedule.due", payload={"job": "nightly"})
    again = Event(topic="schedule.due", payload={"job": "nightly"})
    assert dedup(first) and not dedup(again)
    clock.now = 10
    assert dedup(again)


def test_throttle_counts_what_it_drops():
    clock = Clock()
    throttle = Throttle(limit=2, period=1.0, clock=clock)
    events = [Event(topic="agent.heartbeat") for _ in range(5)]
    assert [throttle(e) for e in events] == [True, True, False, False, False]
    assert throttle.dropped == {"agent.heartbeat": 3}
    clock.now = 1.0
    assert throttle(Event(topic="agent.heartbeat"))
