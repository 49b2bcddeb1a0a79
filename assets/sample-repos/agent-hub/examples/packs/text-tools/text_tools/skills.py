"""Skills take a payload dict and return a new one, so they chain in a PipelineAgent."""
from __future__ import annotations

import re
import unicodedata

from conductor.agents.base import Agent
from conductor.events.models import Event

_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


async def normalize(payload: dict) -> dict:
    """NFC-normalize, collapse runs of spaces, and keep at most one blank line between paragraphs."""
    text = unicodedata.normalize("NFC", str(payload.get("text", "")))
    text = _SPACES.sub(" ", text.replace("\r\n", "\n"))
    text = _BLANK_LINES.sub("\n\n", text).strip()
    return {**payload, "text": text}


def split_chunks(text: str, size: int = 800, overlap: int = 100) -> list[str]:
    """Split on paragraph boundaries where possible; chunks overlap by `overlap` characters."""
    if size <= overlap:
        raise ValueError("size must be larger than overlap")
    chunks: list[str] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = text.rfind("\n\n", start + overlap, end)
            if cut != -1:
                end = cut
        chunks.append(text[start:end].strip())
        if end >= len(text):
            break
        start = max(end - overlap, start + 1)
    return [c for c in chunks if c]


async def chunk(payload: dict) -> dict:
    size = int(payload.get("chunk_size", 800))
    return {**payload, "chunks": split_chunks(str(payload.get("text", "")), size, min(100, size // 4))}


class ChunkerAgent(Agent):
    kind = "chunker"
    subscriptions = ("text.chunk",)

    async def handle(self, event: Event) -> None:
        result = await chunk(await normalize(dict(event.payload)))
        await self.ctx.bus.publish(event.reply("text.chunked", result, source=self.name))
