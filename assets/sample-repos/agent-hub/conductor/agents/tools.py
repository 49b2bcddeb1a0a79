"""Tools an agent may call: a typed spec per tool, a registry, and invocation with argument checks and deadlines.

Tools come from packs (a pack's ``skills``) or are registered in code. Every call is published on the bus as
``tool.called`` / ``tool.failed`` so a trace shows what an agent did, not only what it said.
"""
from __future__ import annotations

import asyncio
import inspect
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping

from conductor.async_utils.timeouts import Deadline
from conductor.events.models import Event

ToolFn = Callable[..., Awaitable[Any]]

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "array": (list, tuple), "object": (dict,),
}


class ToolError(Exception):
    """A tool call that could not be made or did not succeed; `retryable` tells the planner whether to try again."""

    def __init__(self, tool: str, message: str, *, retryable: bool = False):
        super().__init__(f"{tool}: {message}")
        self.tool = tool
        self.retryable = retryable


@dataclass(frozen=True)
class Param:
    name: str
    type: str = "string"
    required: bool = True
    description: str = ""
    default: Any = None

    def check(self, tool: str, value: Any) -> Any:
        expected = _TYPES.get(self.type)
        if expected is None:
            raise ToolError(tool, f"parameter {self.name!r} has unknown type {self.type!r}")
        if self.type == "integer" and isinstance(value, bool):
            raise ToolError(tool, f"{self.name} must be an integer, got a boolean")
        if not isinstance(value, expected):
            raise ToolError(tool, f"{self.name} must be {self.type}, got {type(value).__name__}")
        return value


@dataclass(frozen=True)
class ToolSpec:
    name: str
    fn: ToolFn
    description: str = ""
    params: tuple[Param, ...] = ()
    timeout: float = 30.0
    permissions: tuple[str, ...] = ()

    def bind(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Checked keyword arguments: unknown names refused, defaults filled, types verified."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(arguments) - set(known))
        if unknown:
            raise ToolError(self.name, f"unknown arguments: {', '.join(unknown)}")
        bound: dict[str, Any] = {}
        for param in self.params:
            if param.name in arguments:
                bound[param.name] = param.check(self.name, arguments[param.name])
            elif param.required:
                raise ToolError(self.name, f"missing required argument {param.name!r}")
            elif param.default is not None:
                bound[param.name] = param.default
        return bound

    def schema(self) -> dict[str, Any]:
        """The JSON-schema-like description handed to a model that chooses tools."""
        return {"name": self.name, "description": self.description,
                "parameters": {"type": "object",
                               "properties": {p.name: {"type": p.type, "description": p.description}
                                              for p in self.params},
                               "required": [p.name for p in self.params if p.required]}}


def params_from_signature(fn: Callable[..., Any]) -> tuple[Param, ...]:
    """Derive parameters from annotations: `def search(query: str, limit: int = 5)`."""
    names = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array", dict: "object"}
    params = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        kind = names.get(p.annotation, "string") if p.annotation is not inspect.Parameter.empty else "string"
        required = p.default is inspect.Parameter.empty
        params.append(Param(p.name, kind, required, default=None if required else p.default))
    return tuple(params)


@dataclass
class ToolCall:
    tool: str
    arguments: dict[str, Any]
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    result: Any = None
    error: str | None = None

    @property
    def duration(self) -> float | None:
        return None if self.finished is None else self.finished - self.started

    def to_payload(self) -> dict[str, Any]:
        return {"tool": self.tool, "arguments": self.arguments, "error": self.error,
                "duration_ms": None if self.duration is None else round(self.duration * 1000, 1)}


class ToolRegistry:
    """Named tools an agent can call; permissions are checked against what the agent was granted."""

    def __init__(self) -> None:
        self._tools: dict[str, ToolSpec] = {}

    def register(self, spec: ToolSpec) -> ToolSpec:
        if spec.name in self._tools:
            raise ValueError(f"tool {spec.name!r} is already registered")
        self._tools[spec.name] = spec
        return spec

    def tool(self, name: str | None = None, *, description: str = "", timeout: float = 30.0,
             permissions: tuple[str, ...] = ()) -> Callable[[ToolFn], ToolFn]:
        """Decorator: register a coroutine function as a tool, parameters taken from its signature."""
        def wrap(fn: ToolFn) -> ToolFn:
            self.register(ToolSpec(name or fn.__name__, fn, description or (fn.__doc__ or "").strip(),
                                   params_from_signature(fn), timeout, permissions))
            return fn
        return wrap

    def get(self, name: str) -> ToolSpec:
        try:
            return self._tools[name]
        except KeyError:
            raise ToolError(name, "no such tool") from None

    def names(self) -> list[str]:
        return sorted(self._tools)

    def schemas(self) -> list[dict[str, Any]]:
        return [self._tools[n].schema() for n in self.names()]

    async def invoke(self, name: str, arguments: Mapping[str, Any], *, granted: frozenset[str] = frozenset(),
                     deadline: Deadline | None = None) -> ToolCall:
        """Run one tool call; the ToolCall records the result or the error, it never raises for a tool's failure."""
        spec = self.get(name)
        missing = sorted(set(spec.permissions) - granted)
        if missing:
            raise ToolError(name, f"needs permissions the agent lacks: {', '.join(missing)}")
        call = ToolCall(name, dict(arguments))
        bound = spec.bind(arguments)
        remaining = deadline.remaining() if deadline is not None else None
        timeout = spec.timeout if remaining is None else min(spec.timeout, remaining)
        try:
            call.result = await asyncio.wait_for(spec.fn(**bound), timeout=timeout)
        except asyncio.TimeoutError:
            call.error = f"timed out after {timeout:.1f}s"
        except ToolError as exc:
            call.error = str(exc)
        except Exception as exc:  # a tool's own failure is data for the agent, not a crash of the agent
            call.error = f"{type(exc).__name__}: {exc}"
        finally:
            call.finished = time.monotonic()
        return call


async def call_and_publish(registry: ToolRegistry, ctx, event: Event, name: str,
                           arguments: Mapping[str, Any]) -> ToolCall:
    """Invoke a tool for an agent and publish the outcome as a reply to the event that asked for it."""
    call = await registry.invoke(name, arguments, granted=frozenset(ctx.config.get("permissions", ())))
    topic = "tool.failed" if call.error else "tool.called"
    await ctx.bus.publish(event.reply(topic, call.to_payload(), source=ctx.name))
    return call
