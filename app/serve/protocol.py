"""The wire side of the server: OpenAI error objects, reading a JSON body (at most 1 MiB), request parameters, and
answering a generation as one JSON object or as server-sent events while it streams (OpenAI's completion and chat
chunks, llama.cpp's /infill objects)."""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

MAX_BODY = 1 << 20
MAX_STOPS = 4
DONE, GONE = object(), object()  # the end of a generation's pieces; the client went away

class ApiError(Exception):
    """An answer other than 200, as an OpenAI error object."""

    TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "invalid_request_error",
             405: "invalid_request_error", 413: "invalid_request_error", 503: "server_error", 500: "server_error"}

    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.TYPES.get(self.status, "invalid_request_error"),
                          "param": self.param, "code": self.code}}

    @property
    def record_status(self) -> str:
        return "rejected" if self.status in (401, 503) else "error"


class ClientGone(Exception):
    """The client closed the connection before its request was read."""


# -- small ASGI helpers ---------------------------------------------------------------------------------------------
def header(scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


async def send_json(send, status: int, obj, headers: dict | None = None) -> None:
    body = json.dumps(obj, separators=(",", ":")).encode()
    extra = [(k.lower().encode(), str(v).encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *extra]})
    await send({"type": "http.response.body", "body": body})


SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"),
               (b"x-accel-buffering", b"no")]


def sse(obj) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


async def read_json(scope, receive) -> dict:
    length = header(scope, b"content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        raise ApiError(413, f"the request body is {int(length)} bytes; the limit is {MAX_BODY} (1 MiB)",
                       code="request_too_large")
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(413, f"the request body is over the limit of {MAX_BODY} bytes (1 MiB)",
                           code="request_too_large")
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    try:
        body = json.loads(b"".join(chunks) or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the request body is not valid JSON ({exc})", code="invalid_json") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object", code="invalid_json")
    return body


# -- parameters -----------------------------------------------------------------------------------------------------
def number_param(body: dict, name: str, default, kind, lo, hi):
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
        raise ApiError(400, f"'{name}' must be {'an integer' if kind is int else 'a number'}", param=name)
    if not lo <= value <= hi:
        raise ApiError(400, f"'{name}' must be between {lo} and {hi}, got {value}", param=name)
    return kind(value)


def text_param(body: dict, name: str, default: str | None = "", required: bool = False) -> str:
    value = body.get(name, default)
    if value is None and not required:
        return default or ""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        value = value[0]  # OpenAI accepts a list of prompts; one is what a completion server answers
    if not isinstance(value, str):
        raise ApiError(400, f"'{name}' must be a string" + (" (one prompt per request)" if name == "prompt" else ""),
                       param=name)
    return value


def stops_param(body: dict, name: str = "stop") -> tuple[str, ...]:
    value = body.get(name)
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ApiError(400, f"'{name}' must be a string or a list of strings", param=name)
    if len(values) > MAX_STOPS and name == "stop":
        raise ApiError(400, f"'{name}' takes at most {MAX_STOPS} sequences", param=name)
    return tuple(v for v in values if v)


def refuse_unsupported(body: dict) -> None:
    if (body.get("n") or 1) != 1 or (body.get("best_of") or 1) != 1:
        raise ApiError(400, "only n = 1 (and best_of = 1) is served", param="n")
    if body.get("echo"):
        raise ApiError(400, "'echo' is not served", param="echo")
    if body.get("logprobs") not in (None, False, 0):
        raise ApiError(400, "'logprobs' is not served", param="logprobs")


@dataclass
class Generation:
    """What a slot thread runs, and what came out of it."""
    prompt: str
    max_tokens: int
    stop: tuple[str, ...] = ()
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None


def run_generation(backend, gen: Generation, on_text, cancel):
    return backend.complete(gen.prompt, max_tokens=gen.max_tokens, stop=gen.stop, temperature=gen.temperature,
                            top_p=gen.top_p, seed=gen.seed, on_text=on_text, cancel=cancel)


def finish_reason(stopped_by: str) -> str:
    return "length" if stopped_by == "max_tokens" else "stop"


def context_error(exc) -> ApiError:
    return ApiError(400, f"This model's maximum context length is {exc.n_ctx} tokens. However, you requested "
                         f"{exc.prompt_tokens + exc.max_tokens} tokens ({exc.prompt_tokens} in the prompt, "
                         f"{exc.max_tokens} for the completion). Please reduce the prompt or max_tokens.",
                    code="context_length_exceeded", param="prompt")


async def first_item(job, pieces: asyncio.Queue):
    """The first piece of text, or DONE/GONE; raises the job's error (a context overflow is a 400)."""
    from eval.backends import BackendError, ContextLengthError

    item = await pieces.get()
    if item is DONE and job.exception() is not None:
        exc = job.exception()
        if isinstance(exc, ContextLengthError):
            raise context_error(exc)
        if isinstance(exc, BackendError):
            raise ApiError(400, str(exc), param="prompt")
        raise exc
    return item


class Format:
    """How a generation is answered: one JSON object, or server-sent events as it streams."""

    def __init__(self, stream: bool):
        self.stream = stream

    def chunk(self, piece: str) -> dict:
        raise NotImplementedError

    def final(self, completion, rec: dict) -> list[dict]:
        raise NotImplementedError

    def whole(self, completion, rec: dict) -> dict:
        raise NotImplementedError

    first_chunks: list = []
    done_line = b"data: [DONE]\n\n"

    async def respond(self, ep, job, pieces: asyncio.Queue, send, rec: dict, t_slot: float, t0: float):
        """Answer from the pieces the slot thread sends (`ep.account` records the completion's numbers)."""
        item = await first_item(job, pieces)
        started = False
        while item is not DONE:
            if item is GONE:  # the client left: the generation stops at its next token; count what it did
                try:
                    ep.account(rec, await job, t_slot, t0)
                except Exception:
                    pass
                rec.update(status="cancelled", http_status=499, error="client_closed")
                return
            if self.stream:
                if not started:
                    await self._start(send)
                    started = True
                if item:
                    await send({"type": "http.response.body", "body": sse(self.chunk(item)), "more_body": True})
            item = await pieces.get()
        completion = job.result()
        ep.account(rec, completion, t_slot, t0)
        if not self.stream:
            await send_json(send, 200, self.whole(completion, rec))
            return
        if not started:
            await self._start(send)
        tail = b"".join(sse(obj) for obj in self.final(completion, rec)) + self.done_line
        await send({"type": "http.response.body", "body": tail, "more_body": False})

    async def _start(self, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        if self.first_chunks:
            await send({"type": "http.response.body", "body": b"".join(sse(o) for o in self.first_chunks),
                        "more_body": True})


class CompletionFormat(Format):
    def __init__(self, stream: bool, cid: str, model_id: str, include_usage: bool, chat: bool = False):
        super().__init__(stream)
        self.cid, self.model_id, self.include_usage, self.chat = cid, model_id, include_usage, chat
        self.created = int(time.time())
        self.object = "chat.completion" if chat else "text_completion"
        self.chunk_object = "chat.completion.chunk" if chat else "text_completion"
        if chat:
            self.first_chunks = [self._chunk({"index": 0, "delta": {"role": "assistant", "content": ""},
                                              "logprobs": None, "finish_reason": None})]

    def _chunk(self, choice: dict | None) -> dict:
        return {"id": self.cid, "object": self.chunk_object, "created": self.created, "model": self.model_id,
                "choices": [choice] if choice is not None else []}

    def chunk(self, piece: str) -> dict:
        if self.chat:
            return self._chunk({"index": 0, "delta": {"content": piece}, "logprobs": None, "finish_reason": None})
        return self._chunk({"text": piece, "index": 0, "logprobs": None, "finish_reason": None})

    @staticmethod
    def _usage(c) -> dict:
        return {"prompt_tokens": c.prompt_tokens, "completion_tokens": c.tokens,
                "total_tokens": c.prompt_tokens + c.tokens}

    def final(self, c, rec: dict) -> list[dict]:
        reason = finish_reason(c.stopped_by)
        last = (self._chunk({"index": 0, "delta": {}, "logprobs": None, "finish_reason": reason}) if self.chat
                else self._chunk({"text": "", "index": 0, "logprobs": None, "finish_reason": reason}))
        out = [last]
        if self.include_usage:
            out.append({**self._chunk(None), "usage": self._usage(c)})
        return out

    def whole(self, c, rec: dict) -> dict:
        choice = ({"index": 0, "message": {"role": "assistant", "content": c.text}, "logprobs": None,
                   "finish_reason": finish_reason(c.stopped_by)} if self.chat else
                  {"text": c.text, "index": 0, "logprobs": None, "finish_reason": finish_reason(c.stopped_by)})
        return {"id": self.cid, "object": self.object, "created": self.created, "model": self.model_id,
                "choices": [choice], "usage": self._usage(c)}


class InfillFormat(Format):
    """llama.cpp server's /completion-style answer, which llama.vim and llama.vscode read."""

    done_line = b""

    def __init__(self, stream: bool, cid: str, model_id: str):
        super().__init__(stream)
        self.cid, self.model_id = cid, model_id
        self.sent = 0

    def chunk(self, piece: str) -> dict:
        self.sent += 1
        return {"index": 0, "content": piece, "stop": False, "id_slot": 0, "completion_id": self.cid}

    def _stats(self, c) -> dict:
        prompt_ms = c.ms_first_token or 0.0
        predicted_ms = max(0.0, c.ms_total - prompt_ms)
        evaluated = max(0, c.prompt_tokens - c.reused_tokens)
        stop_type = {"eos": "eos", "stop": "word", "max_tokens": "limit"}.get(c.stopped_by, "none")
        return {"index": 0, "id_slot": 0, "stop": True, "model": self.model_id, "completion_id": self.cid,
                "tokens_predicted": c.tokens, "tokens_evaluated": c.prompt_tokens, "tokens_cached": c.reused_tokens,
                "truncated": False, "stop_type": stop_type, "has_new_line": "\n" in c.text,
                "timings": {"prompt_n": evaluated, "prompt_ms": prompt_ms,
                            "prompt_per_token_ms": prompt_ms / evaluated if evaluated else 0.0,
                            "prompt_per_second": evaluated / (prompt_ms / 1000) if prompt_ms else 0.0,
                            "predicted_n": c.tokens, "predicted_ms": predicted_ms,
                            "predicted_per_token_ms": predicted_ms / c.tokens if c.tokens else 0.0,
                            "predicted_per_second": c.tokens / (predicted_ms / 1000) if predicted_ms else 0.0}}

    def final(self, c, rec: dict) -> list[dict]:
        return [{**self._stats(c), "content": ""}]

    def whole(self, c, rec: dict) -> dict:
        return {**self._stats(c), "content": c.text}
