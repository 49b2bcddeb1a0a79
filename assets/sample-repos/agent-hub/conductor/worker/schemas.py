"""Request and response bodies of the worker's HTTP API (pydantic models, as FastAPI expects)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator


class SpawnRequest(BaseModel):
    kind: str = Field(min_length=1, max_length=64)
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")
    config: dict[str, Any] = Field(default_factory=dict)
    restart: Literal["permanent", "transient", "temporary"] = "transient"


class AgentOut(BaseModel):
    name: str
    kind: str
    state: str
    processed: int = 0
    queued: int = 0
    restarts: int = 0
    error: str | None = None


class MessageIn(BaseModel):
    topic: str = Field(min_length=1, max_length=200)
    payload: dict[str, Any] = Field(default_factory=dict)

    @field_validator("topic")
    @classmethod
    def no_wildcards(cls, value: str) -> str:
        if "*" in value or "#" in value:
            raise ValueError("wildcards are for subscriptions")
        return value


class InstallRequest(BaseModel):
    packs: dict[str, str] = Field(description="pack name -> version constraint, e.g. {'web-search': '^1.2'}")


class JobIn(BaseModel):
    kind: str
    params: dict[str, Any] = Field(default_factory=dict)


class JobOut(BaseModel):
    id: str
    kind: str
    status: str
    result: Any = None
    error: str | None = None
    duration: float | None = None
