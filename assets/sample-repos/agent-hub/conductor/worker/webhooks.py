"""Outgoing webhooks: forward matching bus events to HTTP endpoints, signed, retried with backoff, and switched off
after too many consecutive failures so one dead endpoint cannot back up the bus."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from conductor.async_utils.retry import Backoff, RetryError, retry
from conductor.events.bus import EventBus, Subscription
from conductor.events.models import Event, topic_matches

Send = Callable[[str, bytes, dict[str, str]], Awaitable[int]]  # (url, body, headers) -> HTTP status


class DeliveryError(Exception):
    def __init__(self, status: int):
        super().__init__(f"endpoint answered {status}")
        self.status = status


@dataclass
class Webhook:
    name: str
    url: str
    pattern: str
    signing_key: bytes
    max_failures: int = 10
    failures: int = 0
    delivered: int = 0
    disabled: bool = False
    last_error: str | None = None
    sub: Subscription | None = field(default=None, repr=False)

    def wants(self, event: Event) -> bool:
        return not self.disabled and topic_matches(self.pattern, event.topic)


def sign(key: bytes, timestamp: int, body: bytes) -> str:
    """``v1=<hex>`` over ``<timestamp>.<body>``, so a receiver can reject replays of old deliveries."""
    mac = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={mac}"


def verify(key: bytes, timestamp: int, body: bytes, signature: str, *, now: float | None = None,
           tolerance: int = 300) -> bool:
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(key, timestamp, body), signature)


def encode(event: Event) -> bytes:
    return json.dumps(event.to_dict(), separators=(",", ":"), sort_keys=True).encode()


class WebhookDispatcher:
    def __init__(self, bus: EventBus, send: Send, *, attempts: int = 4, backoff: Backoff = Backoff(0.5, 2.0, 30.0)):
        self.bus = bus
        self.send = send
        self.attempts = attempts
        self.backoff = backoff
        self.hooks: dict[str, Webhook] = {}

    def add(self, hook: Webhook) -> Webhook:
        if hook.name in self.hooks:
            raise ValueError(f"webhook {hook.name!r} exists")

        async def deliver(event: Event) -> None:
            await self.deliver(hook, event)

        hook.sub = self.bus.subscribe(hook.pattern, deliver, name=f"webhook:{hook.name}", queue_size=1000)
        self.hooks[hook.name] = hook
        return hook

    async def remove(self, name: str) -> None:
        hook = self.hooks.pop(name)
        if hook.sub is not None:
            await self.bus.unsubscribe(hook.sub, drain=False)

    async def deliver(self, hook: Webhook, event: Event) -> bool:
        if not hook.wants(event):
            return False
        body = encode(event)

        async def attempt() -> None:
            timestamp = int(time.time())
            headers = {"content-type": "application/json", "x-conductor-timestamp": str(timestamp),
                       "x-conductor-signature": sign(hook.signing_key, timestamp, body),
                       "x-conductor-event": event.topic}
            status = await self.send(hook.url, body, headers)
            if status >= 500 or status == 429:
                raise DeliveryError(status)
            if status >= 400:
                hook.last_error = f"rejected with {status}"  # a client error will not heal by retrying

        try:
            await retry(attempt, attempts=self.attempts, backoff=self.backoff, retry_on=(DeliveryError, OSError))
        except RetryError as exc:
            hook.failures += 1
            hook.last_error = str(exc.last)
            if hook.failures >= hook.max_failures:
                hook.disabled = True
                await self.bus.emit("webhook.disabled", source="webhooks", webhook=hook.name, error=hook.last_error)
            return False
        hook.failures = 0
        hook.delivered += 1
        return True

    def status(self) -> list[dict[str, Any]]:
        return [{"name": h.name, "url": h.url, "pattern": h.pattern, "delivered": h.delivered,
                 "failures": h.failures, "disabled": h.disabled, "last_error": h.last_error}
                for h in sorted(self.hooks.values(), key=lambda h: h.name)]

    def enable(self, name: str) -> None:
        hook = self.hooks[name]
        hook.disabled, hook.failures = False, 0
