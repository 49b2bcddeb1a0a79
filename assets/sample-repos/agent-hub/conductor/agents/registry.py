"""A registry of agent kinds, so the worker can spawn agents by name from a request."""
from __future__ import annotations

from typing import Callable, Iterable

from conductor.agents.base import Agent, AgentContext, EchoAgent

AgentFactory = Callable[[AgentContext], Agent]


class UnknownAgentKind(KeyError):
    def __str__(self) -> str:
        return f"unknown agent kind {self.args[0]!r}"


class AgentRegistry:
    def __init__(self) -> None:
        self._factories: dict[str, AgentFactory] = {}
        self._origins: dict[str, str] = {}

    def register(self, kind: str, factory: AgentFactory, *, origin: str = "builtin", replace: bool = False) -> None:
        """Make `kind` spawnable. Packs register their agents with their pack name as `origin`."""
        if kind in self._factories and not replace:
            raise ValueError(f"agent kind {kind!r} is already registered by {self._origins[kind]}")
        self._factories[kind] = factory
        self._origins[kind] = origin

    def unregister_origin(self, origin: str) -> list[str]:
        """Remove every kind a pack registered (when the pack is uninstalled)."""
        gone = [k for k, o in self._origins.items() if o == origin]
        for kind in gone:
            del self._factories[kind], self._origins[kind]
        return gone

    def create(self, kind: str, ctx: AgentContext) -> Agent:
        try:
            factory = self._factories[kind]
        except KeyError:
            raise UnknownAgentKind(kind) from None
        agent = factory(ctx)
        if not isinstance(agent, Agent):
            raise TypeError(f"factory for {kind!r} returned {type(agent).__name__}, not an Agent")
        return agent

    def kinds(self) -> list[dict[str, str]]:
        return [{"kind": k, "origin": self._origins[k]} for k in sorted(self._factories)]

    def __contains__(self, kind: str) -> bool:
        return kind in self._factories


def default_registry(extra: Iterable[tuple[str, AgentFactory]] = ()) -> AgentRegistry:
    registry = AgentRegistry()
    registry.register("echo", EchoAgent)
    for kind, factory in extra:
        registry.register(kind, factory)
    return registry
