"""conductor (the agent-hub runtime): spawn and supervise async agents that talk over an event bus and gain skills from packs."""
from conductor.agents.base import Agent, AgentContext, AgentState
from conductor.agents.spawner import Spawner, SpawnError
from conductor.events.bus import EventBus
from conductor.events.models import Event

__all__ = ["Agent", "AgentContext", "AgentState", "Spawner", "SpawnError", "EventBus", "Event"]
__version__ = "0.4.2"
