import asyncio

from conductor.agents.base import Agent, AgentState
from conductor.agents.registry import default_registry
from conductor.agents.spawner import Spawner
from conductor.agents.supervisor import Restart, RestartPolicy
from conductor.events.bus import EventBus


class Flaky(Agent):
    kind = "flaky"

    async def handle(self, event):
        if event.payload.get("crash"):
            raise RuntimeError("boom")


def test_echo_agent_replies_over_the_bus():
    async def scenario():
        bus = EventBus()
        async with Spawner(bus) as spawner:
            await spawner.spawn("echo", "echo-1")
            replies = []

            async def got(event):
                replies.append(event.payload)

            bus.subscribe("echo.reply", got)
            await bus.emit("echo.request", text="hi")
            await bus.join()
            await bus.join()
        await bus.close()
        return replies

    assert asyncio.run(scenario()) == [{"text": "hi"}]


def test_crashed_agent_is_restarted_then_given_up():
    async def scenario():
        bus = EventBus()
        registry = default_registry([("flaky", Flaky)])
        topics = []

        async def watch(event):
            topics.append(event.topic)

        bus.subscribe("agent.*", watch)
        spawner = Spawner(bus, registry)
        policy = RestartPolicy(restart=Restart.TRANSIENT, max_restarts=1, delay=0.0)
        agent = await spawner.spawn("flaky", "f", policy=policy)
        await spawner.send("f", "work", crash=True)
        await asyncio.sleep(0.05)
        await spawner.send("f", "work", crash=True)
        await asyncio.sleep(0.05)
        await bus.join()
        state = agent.state
        await spawner.stop_all()
        await bus.close()
        return topics, state

    topics, state = asyncio.run(scenario())
    assert state is AgentState.FAILED
    assert topics.count("agent.started") == 2
    assert topics[-1] == "agent.given_up"
