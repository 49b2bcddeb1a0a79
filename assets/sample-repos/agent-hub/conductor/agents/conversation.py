"""A conversational agent: keeps a working memory per conversation, asks its `respond` skill for the next turn,
and can call tools the skill asks for, within a per-conversation turn limit."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from conductor.agents.base import Agent, AgentContext
from conductor.agents.memory import WorkingMemory
from conductor.agents.tools import ToolRegistry, call_and_publish
from conductor.events.models import Event

Respond = Callable[[str, list[dict[str, Any]]], Awaitable[dict[str, Any]]]


@dataclass
class Conversation:
    id: str
    memory: WorkingMemory
    started: float = field(default_factory=time.time)
    turns: int = 0
    closed: bool = False


class ConversationAgent(Agent):
    """``chat.message`` (conversation, text) in, ``chat.reply`` out; ``chat.close`` ends a conversation."""

    kind = "conversation"
    subscriptions = ("chat.message", "chat.close")
    max_turns = 50
    idle_seconds = 30 * 60

    def __init__(self, ctx: AgentContext, respond: Respond | None = None, tools: ToolRegistry | None = None):
        super().__init__(ctx)
        self.respond = respond or ctx.skills.get("respond")
        self.tools = tools or ctx.skills.get("tools") or ToolRegistry()
        self.conversations: dict[str, Conversation] = {}

    def conversation(self, conversation_id: str) -> Conversation:
        convo = self.conversations.get(conversation_id)
        if convo is None or convo.closed:
            budget = int(self.ctx.config.get("memory_tokens", 2048))
            convo = Conversation(conversation_id, WorkingMemory(budget))
            self.conversations[conversation_id] = convo
        return convo

    async def handle(self, event: Event) -> None:
        conversation_id = str(event.payload.get("conversation", ""))
        if not conversation_id:
            await self.ctx.bus.publish(event.reply("chat.rejected", {"reason": "no conversation id"},
                                                   source=self.name))
            return
        if event.topic == "chat.close":
            self.close(conversation_id)
            return
        convo = self.conversation(conversation_id)
        if convo.turns >= self.max_turns:
            await self.ctx.bus.publish(event.reply("chat.rejected", {"conversation": conversation_id,
                                                                    "reason": "turn limit reached"},
                                                   source=self.name))
            return
        convo.memory.add("user", str(event.payload.get("text", "")))
        convo.turns += 1
        reply = await self.next_reply(convo, event)
        convo.memory.add("agent", reply)
        await self.ctx.bus.publish(event.reply("chat.reply", {"conversation": conversation_id, "text": reply},
                                               source=self.name))
        self.expire_idle()

    async def next_reply(self, convo: Conversation, event: Event) -> str:
        if self.respond is None:
            return "I have no responder skill installed."
        for _ in range(3):  # at most three tool round-trips per user turn
            answer = await self.respond(convo.memory.render(), self.tools.schemas())
            tool = answer.get("tool")
            if not tool:
                return str(answer.get("text", ""))
            call = await call_and_publish(self.tools, self.ctx, event, tool, answer.get("arguments") or {})
            outcome = call.error or repr(call.result)[:500]
            convo.memory.add("tool", f"{tool} -> {outcome}")
        return "I could not finish that within the tool-call limit."

    def close(self, conversation_id: str) -> bool:
        convo = self.conversations.pop(conversation_id, None)
        if convo is None:
            return False
        convo.closed = True
        return True

    def expire_idle(self, now: float | None = None) -> list[str]:
        now = time.time() if now is None else now
        idle = [cid for cid, c in self.conversations.items()
                if (c.memory.last() is None and now - c.started > self.idle_seconds)
                or (c.memory.last() is not None and now - c.memory.last().at > self.idle_seconds)]
        for cid in idle:
            self.close(cid)
        return idle

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "conversations": len(self.conversations)}
