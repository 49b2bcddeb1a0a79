"""agent-hub: spawn and supervise async agents that talk over an event bus and gain skills from packs."""
from agent_hub.agents.base import Agent, AgentContext, AgentState
from agent_hub.agents.spawner import Spawner, SpawnError
from agent_hub.events.bus import EventBus
from agent_hub.events.models import Event

__all__ = ["Agent", "AgentContext", "AgentState", "Spawner", "SpawnError", "EventBus", "Event"]
__version__ = "0.4.2"
