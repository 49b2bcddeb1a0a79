"""The Starlette application: OpenAI `/v1/completions` (suffix → FIM), `/v1/chat/completions`, `/v1/models`,
llama.cpp's `/infill`, and `/health`.

The generation endpoints are plain ASGI callables under Starlette's router, so each request reads its body once
(at most 1 MiB), then watches its connection: when the client goes away, the generation's cancel event is set
(llama.cpp stops at the next token, or between prompt pieces) and a request still waiting for a slot leaves the
queue. Errors are OpenAI error objects; nothing a client sends shows it a traceback or stops the server.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import sys
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.keys import hash_key
from app.store import iso
from app.serve.catalog import ServedModel
from app.serve.engine import Busy, Pool
from app.serve.recorder import Recorder

MAX_BODY = 1 << 20
ISSUED_KEPT = 200_000  # completion ids remembered in memory for events (older ones are looked up in the store)
CAPTURES_KEPT = 10_000  # with --capture: contexts kept until their completion is accepted or forgotten
EVENT_KINDS = ("view", "select", "dismiss")
MAX_STOPS = 4
DEFAULT_INFILL_PREDICT = 128
_DONE, _GONE = object(), object()


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


class _Gone(Exception):
    """The client closed the connection before its request was read."""


# -- small ASGI helpers ---------------------------------------------------------------------------------------------
def _header(scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


async def _send_json(send, status: int, obj, headers: dict | None = None) -> None:
    body = json.dumps(obj, separators=(",", ":")).encode()
    extra = [(k.lower().encode(), str(v).encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *extra]})
    await send({"type": "http.response.body", "body": body})


SSE_HEADERS = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"),
               (b"x-accel-buffering", b"no")]


def _sse(obj) -> bytes:
    return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"


async def _read_json(scope, receive) -> dict:
    length = _header(scope, b"content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        raise ApiError(413, f"the request body is {int(length)} bytes; the limit is {MAX_BODY} (1 MiB)",
                       code="request_too_large")
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Gone()
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
def _number(body: dict, name: str, default, kind, lo, hi):
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
        raise ApiError(400, f"'{name}' must be {'an integer' if kind is int else 'a number'}", param=name)
    if not lo <= value <= hi:
        raise ApiError(400, f"'{name}' must be between {lo} and {hi}, got {value}", param=name)
    return kind(value)


def _text(body: dict, name: str, default: str | None = "", required: bool = False) -> str:
    value = body.get(name, default)
    if value is None and not required:
        return default or ""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        value = value[0]  # OpenAI accepts a list of prompts; one is what a completion server answers
    if not isinstance(value, str):
        raise ApiError(400, f"'{name}' must be a string" + (" (one prompt per request)" if name == "prompt" else ""),
                       param=name)
    return value


def _stops(body: dict, name: str = "stop") -> tuple[str, ...]:
    value = body.get(name)
    if value is None:
        return ()
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ApiError(400, f"'{name}' must be a string or a list of strings", param=name)
    if len(values) > MAX_STOPS and name == "stop":
        raise ApiError(400, f"'{name}' takes at most {MAX_STOPS} sequences", param=name)
    return tuple(v for v in values if v)


def _unsupported(body: dict) -> None:
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


def _run_generation(backend, gen: Generation, on_text, cancel):
    return backend.complete(gen.prompt, max_tokens=gen.max_tokens, stop=gen.stop, temperature=gen.temperature,
                            top_p=gen.top_p, seed=gen.seed, on_text=on_text, cancel=cancel)


def _finish_reason(stopped_by: str) -> str:
    return "length" if stopped_by == "max_tokens" else "stop"


# -- the shared state of one server ---------------------------------------------------------------------------------
class ServeState:
    def __init__(self, ws, models: list[ServedModel], pool: Pool, *, auth: bool, log=None,
                 splits: dict[str, list[tuple[str, float]]] | None = None, capture: bool = False):
        self.ws = ws
        self.models = {m.id: m for m in models}
        self.default_model = models[0].id
        self.names: dict[str, str] = {}
        for m in models:
            self.names[m.id] = m.id
            for alias in m.aliases:
                self.names[alias] = m.id
        self.pool = pool
        self.auth = auth
        self.recorder = Recorder(ws)
        self.log = log or (lambda message: print(f"serve: {message}", file=sys.stderr, flush=True))
        self._db = sqlite3.connect(str(ws.db_path), check_same_thread=False, timeout=5)
        self._db.execute("PRAGMA query_only = ON")
        self.inflight = 0
        self.splits = splits or {}
        self.capture = capture
        self.issued: OrderedDict[str, tuple] = OrderedDict()  # completion id -> (model, key, capability)
        self.contexts: OrderedDict[str, dict] = OrderedDict()  # --capture: completion id -> prompt, suffix, text
        self.events_seen: OrderedDict[tuple, None] = OrderedDict()
        self.capture_stats = {"kept": 0, "dropped_secret": 0}

    def now(self) -> str:
        return iso(self.ws.clock())

    def authenticate(self, scope) -> str | None:
        """The name of the request's key (None without auth); ApiError 401 when missing, wrong or revoked."""
        if not self.auth:
            return None
        header = _header(scope, b"authorization") or ""
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise ApiError(401, "an API key is required: send 'Authorization: Bearer KEY' (blackroad-studio keys "
                                "create NAME)", code="invalid_api_key")
        row = self._db.execute("SELECT name FROM api_keys WHERE hash = ? AND revoked IS NULL",
                               (hash_key(key.strip()),)).fetchone()
        if row is None:
            raise ApiError(401, "the API key is wrong or revoked", code="invalid_api_key")
        return row[0]

    def resolve(self, requested: str | None, rec: dict) -> ServedModel:
        """The served model a request names (id, alias, capability; none: the first served model)."""
        if requested is not None and not isinstance(requested, str):
            raise ApiError(400, "'model' must be a string", param="model")
        rec["requested"] = requested
        if requested in self.splits:
            return self._split(requested, rec)
        model_id = self.names.get(requested) if requested else self.default_model
        if model_id is None and requested:
            row = self._db.execute("SELECT target FROM routes WHERE capability = ?", (requested,)).fetchone()
            if row is not None:
                rec["capability"] = requested
                model_id = self.names.get(row[0])
                if model_id is None:
                    raise ApiError(404, f"the capability '{requested}' routes to '{row[0]}', which this server does "
                                        "not serve", code="model_not_found", param="model")
        if model_id is None:
            raise ApiError(404, f"the model '{requested}' does not exist or is not served here (GET /v1/models)",
                           code="model_not_found", param="model")
        model = self.models[model_id]
        rec["model_id"], rec["artifact_sha256"] = model.id, model.sha256
        return model

    def _split(self, capability: str, rec: dict) -> ServedModel:
        """A/B: the capability's arm for this key, the same arm for a key every time (a hash of key and capability
        against the cumulative weights), recorded on the request."""
        arms = self.splits[capability]
        model = self.models[choose_arm(capability, rec.get("key_name") or "(no key)", arms)]
        rec.update(capability=capability, split=split_label(capability, arms), model_id=model.id,
                   artifact_sha256=model.sha256)
        return model

    def issue(self, rec: dict) -> None:
        """Remember a completion that was answered, so that events about it are accepted."""
        cid = rec.get("completion_id")
        if not cid or rec.get("status") != "ok":
            return
        self.issued[cid] = (rec.get("model_id"), rec.get("key_name"), rec.get("capability"))
        if len(self.issued) > ISSUED_KEPT:
            self.issued.popitem(last=False)
        if self.capture and "_context" in rec:
            self.contexts[cid] = rec["_context"]
            if len(self.contexts) > CAPTURES_KEPT:
                self.contexts.popitem(last=False)

    def known(self, cid: str) -> bool:
        if cid in self.issued:
            return True
        return self._db.execute("SELECT 1 FROM serve_requests WHERE completion_id = ? AND status = 'ok'",
                                (cid,)).fetchone() is not None

    def close(self) -> None:
        self.pool.close()
        self.recorder.close()
        self._db.close()


def choose_arm(capability: str, who: str, arms: list[tuple[str, float]]) -> str:
    """The arm of a split for a key: a uniform number from the hash of (capability, key) against the cumulative
    weights, so a key sees the same model every time and keys divide in the weights' proportions."""
    u = int.from_bytes(hashlib.sha256(f"{capability}\0{who}".encode()).digest()[:8], "big") / 2**64
    total = sum(w for _, w in arms)
    acc = 0.0
    for arm, weight in arms:
        acc += weight / total
        if u < acc:
            return arm
    return arms[-1][0]


def split_label(capability: str, arms: list[tuple[str, float]]) -> str:
    return f"{capability}=" + ",".join(f"{m}:{w:g}" for m, w in arms)


def parse_split(text: str) -> tuple[str, list[tuple[str, float]]]:
    """'CAPABILITY=MODEL_A:0.9,MODEL_B:0.1' → (capability, [(model, weight), ...]); ValueError when malformed."""
    capability, sep, rest = text.partition("=")
    if not sep or not capability or not rest:
        raise ValueError(f"--split {text!r}: give CAPABILITY=MODEL_A:0.9,MODEL_B:0.1")
    arms = []
    for part in rest.split(","):
        model, sep, weight = part.rpartition(":")
        try:
            value = float(weight)
        except ValueError:
            value = -1.0
        if not sep or not model or not value > 0:
            raise ValueError(f"--split {text!r}: each arm is MODEL:WEIGHT with a weight above 0")
        arms.append((model, value))
    if len(arms) < 2:
        raise ValueError(f"--split {text!r}: a split needs two arms or more")
    return capability, arms


# -- the endpoints --------------------------------------------------------------------------------------------------
class Endpoint:
    """An ASGI endpoint that authenticates, reads JSON, answers errors as OpenAI objects and records the request."""

    path = ""
    records = True  # a usage row per request (the events endpoint writes event rows instead)

    def __init__(self, state: ServeState):
        self.state = state

    async def __call__(self, scope, receive, send) -> None:
        state = self.state
        t0 = time.perf_counter()
        rec: dict = {"time": state.now(), "endpoint": self.path, "status": "ok", "http_status": 200}
        sent = [False]

        async def tracked_send(message):
            if message["type"] == "http.response.start":
                sent[0] = True
            await send(message)

        state.inflight += 1
        try:
            rec["key_name"] = state.authenticate(scope)
            body = await _read_json(scope, receive)
            await self.handle(body, receive, tracked_send, rec, t0)
        except ApiError as exc:
            rec.update(status=exc.record_status, http_status=exc.status, error=exc.code or exc.TYPES.get(exc.status))
            if not sent[0]:
                await _send_json(send, exc.status, exc.body(), exc.headers)
        except _Gone:
            rec.update(status="cancelled", http_status=499, error="client_closed")
        except asyncio.CancelledError:  # the server stopped past its grace period
            rec.update(status="cancelled", http_status=503, error="shutdown")
            raise
        except Exception as exc:  # a bug: one line in the log, an error object to the client, the server lives on
            state.log(f"{self.path}: {type(exc).__name__}: {exc}")
            rec.update(status="error", http_status=500, error="internal_error")
            if not sent[0]:
                await _send_json(send, 500, ApiError(500, "internal error (logged by the server)").body())
        finally:
            state.inflight -= 1
            rec["total_ms"] = round((time.perf_counter() - t0) * 1000, 3)
            if self.records:
                state.recorder.request(rec)
            state.issue(rec)

    async def handle(self, body: dict, receive, send, rec: dict, t0: float) -> None:
        raise NotImplementedError

    async def runner(self, model: ServedModel):
        try:
            return await self.state.pool.runner(model.id)
        except Busy as exc:
            raise ApiError(503, str(exc), code="overloaded", headers={"Retry-After": exc.retry_after}) from None

    async def generate(self, model: ServedModel, gen: Generation, receive, send, rec: dict, t0: float, fmt) -> None:
        """Queue for a slot, run the generation in its thread, stream or answer it with `fmt`, and stop at once
        when the client goes away (the slot is free as soon as llama.cpp notices the cancel)."""
        loop = asyncio.get_running_loop()
        runner = await self.runner(model)
        cancel = threading.Event()
        pieces: asyncio.Queue = asyncio.Queue()

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    cancel.set()
                    pieces.put_nowait(_GONE)
                    return

        watcher = loop.create_task(watch())
        try:
            acquiring = loop.create_task(runner.acquire(gen.prompt))
            await asyncio.wait((acquiring, watcher), return_when=asyncio.FIRST_COMPLETED)
            if not acquiring.done():
                acquiring.cancel()
                rec.update(status="cancelled", http_status=499, error="client_closed")
                return
            try:
                slot = acquiring.result()
            except Busy as exc:
                raise ApiError(503, str(exc), code="overloaded", headers={"Retry-After": exc.retry_after}) from None
            if cancel.is_set():  # gone while the slot was being handed over
                runner.release(slot)
                rec.update(status="cancelled", http_status=499, error="client_closed")
                return
            t_slot = time.perf_counter()
            rec["queue_ms"] = round((t_slot - t0) * 1000, 3)
            put = pieces.put_nowait
            job = runner.run(slot, _run_generation, gen, lambda text: loop.call_soon_threadsafe(put, text), cancel)
            job.add_done_callback(lambda _f: put(_DONE))
            await fmt.respond(self, job, pieces, send, rec, t_slot, t0)
        finally:
            cancel.set()  # whatever ended the request ends its generation
            watcher.cancel()

    @staticmethod
    def account(rec: dict, completion, t_slot: float, t0: float) -> None:
        rec["prompt_tokens"] = completion.prompt_tokens
        rec["completion_tokens"] = completion.tokens
        rec["completion_chars"] = len(completion.text)
        if "_context" in rec:
            rec["_context"]["text"] = completion.text
        if completion.ms_first_token is not None:
            rec["first_token_ms"] = round((t_slot - t0) * 1000 + completion.ms_first_token, 3)
        if completion.stopped_by == "cancelled":
            rec.update(status="cancelled", http_status=499, error="client_closed")


def _context_error(exc) -> ApiError:
    return ApiError(400, f"This model's maximum context length is {exc.n_ctx} tokens. However, you requested "
                         f"{exc.prompt_tokens + exc.max_tokens} tokens ({exc.prompt_tokens} in the prompt, "
                         f"{exc.max_tokens} for the completion). Please reduce the prompt or max_tokens.",
                    code="context_length_exceeded", param="prompt")


async def _first_item(job, pieces: asyncio.Queue):
    """The first piece of text, or _DONE/_GONE; raises the job's error (a context overflow is a 400)."""
    from eval.backends import BackendError, ContextLengthError

    item = await pieces.get()
    if item is _DONE and job.exception() is not None:
        exc = job.exception()
        if isinstance(exc, ContextLengthError):
            raise _context_error(exc)
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

    async def respond(self, ep: Endpoint, job, pieces: asyncio.Queue, send, rec: dict, t_slot: float, t0: float):
        item = await _first_item(job, pieces)
        started = False
        while item is not _DONE:
            if item is _GONE:  # the client left: the generation stops at its next token; count what it did
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
                    await send({"type": "http.response.body", "body": _sse(self.chunk(item)), "more_body": True})
            item = await pieces.get()
        completion = job.result()
        ep.account(rec, completion, t_slot, t0)
        if not self.stream:
            await _send_json(send, 200, self.whole(completion, rec))
            return
        if not started:
            await self._start(send)
        tail = b"".join(_sse(obj) for obj in self.final(completion, rec)) + self.done_line
        await send({"type": "http.response.body", "body": tail, "more_body": False})

    async def _start(self, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        if self.first_chunks:
            await send({"type": "http.response.body", "body": b"".join(_sse(o) for o in self.first_chunks),
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
        reason = _finish_reason(c.stopped_by)
        last = (self._chunk({"index": 0, "delta": {}, "logprobs": None, "finish_reason": reason}) if self.chat
                else self._chunk({"text": "", "index": 0, "logprobs": None, "finish_reason": reason}))
        out = [last]
        if self.include_usage:
            out.append({**self._chunk(None), "usage": self._usage(c)})
        return out

    def whole(self, c, rec: dict) -> dict:
        choice = ({"index": 0, "message": {"role": "assistant", "content": c.text}, "logprobs": None,
                   "finish_reason": _finish_reason(c.stopped_by)} if self.chat else
                  {"text": c.text, "index": 0, "logprobs": None, "finish_reason": _finish_reason(c.stopped_by)})
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


def _completion_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


class Completions(Endpoint):
    path = "/v1/completions"

    async def handle(self, body, receive, send, rec, t0):
        from eval.prompts import completion_prompt, completion_stops

        _unsupported(body)
        model = self.state.resolve(body.get("model"), rec)
        prompt = _text(body, "prompt", required=True)
        suffix = _text(body, "suffix")
        gen = Generation(prompt=prompt, max_tokens=_number(body, "max_tokens", 16, int, 1, 1 << 20),
                         stop=_stops(body), temperature=_number(body, "temperature", 1.0, float, 0.0, 2.0),
                         top_p=_number(body, "top_p", 1.0, float, 0.0, 1.0),
                         seed=_number(body, "seed", None, int, -(1 << 63), (1 << 63) - 1))
        runner_fim = (await self.runner(model)).fim
        gen.prompt = completion_prompt(prompt, suffix, runner_fim)
        if runner_fim is not None:
            gen.stop = gen.stop + tuple(t for t in completion_stops(runner_fim) if t not in gen.stop)
        stream_options = body.get("stream_options") or {}
        cid = rec["completion_id"] = _completion_id("cmpl")
        if self.state.capture:
            rec["_context"] = {"prompt": prompt, "suffix": suffix}
        fmt = CompletionFormat(bool(body.get("stream")), cid, model.id,
                               bool(isinstance(stream_options, dict) and stream_options.get("include_usage")))
        await self.generate(model, gen, receive, send, rec, t0, fmt)


def _message_text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if not (isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)):
                raise ApiError(400, "message content parts must be {'type': 'text', 'text': ...}", param="messages")
            parts.append(part["text"])
        return "".join(parts)
    if content is None:
        return ""
    raise ApiError(400, "message content must be a string or a list of text parts", param="messages")


class ChatCompletions(Endpoint):
    path = "/v1/chat/completions"

    async def handle(self, body, receive, send, rec, t0):
        from eval.backends import BackendError

        _unsupported(body)
        model = self.state.resolve(body.get("model"), rec)
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ApiError(400, "'messages' must be a non-empty list", param="messages")
        clean = []
        for m in messages:
            if not isinstance(m, dict) or not isinstance(m.get("role"), str):
                raise ApiError(400, "each message needs a 'role' and 'content'", param="messages")
            clean.append({"role": m["role"], "content": _message_text(m.get("content"))})
        runner = await self.runner(model)
        try:
            prompt = runner.slots[0].backend.chat_prompt(clean)
        except BackendError as exc:
            raise ApiError(400, str(exc), param="messages") from None
        except Exception as exc:  # the template itself raised (jinja2): the messages do not fit it
            raise ApiError(400, f"the model's chat template refused the messages: {exc}", param="messages") from None
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        gen = Generation(prompt=prompt,
                         max_tokens=_number({"max_tokens": limit}, "max_tokens", 512, int, 1, 1 << 20),
                         stop=_stops(body), temperature=_number(body, "temperature", 1.0, float, 0.0, 2.0),
                         top_p=_number(body, "top_p", 1.0, float, 0.0, 1.0),
                         seed=_number(body, "seed", None, int, -(1 << 63), (1 << 63) - 1))
        stream_options = body.get("stream_options") or {}
        cid = rec["completion_id"] = _completion_id("chatcmpl")
        fmt = CompletionFormat(bool(body.get("stream")), cid, model.id,
                               bool(isinstance(stream_options, dict) and stream_options.get("include_usage")),
                               chat=True)
        await self.generate(model, gen, receive, send, rec, t0, fmt)


def infill_prompt(fim, prefix: str, suffix: str, middle: str, extra: list[dict]) -> str:
    """llama.cpp's /infill layout: the repo context chunks (each `<file_sep>NAME\\nTEXT` where the model has a file
    separator, else the plain text), then the FIM prompt, then `prompt` after the middle marker. Without FIM tokens
    the suffix cannot be given to the model: context + prefix + prompt."""
    from eval.prompts import completion_prompt

    if fim is not None and fim.file_sep:
        context = "".join(f"{fim.file_sep}{c['filename']}\n{c['text']}" for c in extra)
        context += f"{fim.file_sep}filename\n" if extra else ""
    else:
        context = "".join(c["text"] if c["text"].endswith("\n") else c["text"] + "\n" for c in extra)
    if fim is not None:
        return context + fim.psm(prefix, suffix) + middle
    return context + completion_prompt(prefix + middle, suffix, None)


class Infill(Endpoint):
    path = "/infill"

    async def handle(self, body, receive, send, rec, t0):
        from eval.prompts import completion_stops

        model = self.state.resolve(body.get("model"), rec)
        prefix, suffix = _text(body, "input_prefix"), _text(body, "input_suffix")
        middle = _text(body, "prompt")
        extra = body.get("input_extra") or []
        if not isinstance(extra, list) or not all(
                isinstance(c, dict) and isinstance(c.get("text", ""), str) and isinstance(c.get("filename", ""), str)
                for c in extra):
            raise ApiError(400, "'input_extra' must be a list of {'filename': str, 'text': str}", param="input_extra")
        extra = [{"filename": c.get("filename", ""), "text": c.get("text", "")} for c in extra]
        n_predict = body.get("n_predict", DEFAULT_INFILL_PREDICT)
        if isinstance(n_predict, int) and not isinstance(n_predict, bool) and n_predict < 0:
            n_predict = DEFAULT_INFILL_PREDICT  # llama.cpp's -1 (until the end): bounded here
        fim = (await self.runner(model)).fim
        gen = Generation(prompt=infill_prompt(fim, prefix, suffix, middle, extra),
                         max_tokens=_number({"n_predict": n_predict}, "n_predict", DEFAULT_INFILL_PREDICT, int, 1,
                                            1 << 20),
                         stop=_stops(body) + completion_stops(fim),
                         temperature=_number(body, "temperature", 0.0, float, 0.0, 2.0),
                         top_p=_number(body, "top_p", 1.0, float, 0.0, 1.0),
                         seed=_number(body, "seed", None, int, -(1 << 63), (1 << 63) - 1))
        cid = rec["completion_id"] = _completion_id("infill")
        if self.state.capture:
            rec["_context"] = {"prompt": prefix + middle, "suffix": suffix}
        await self.generate(model, gen, receive, send, rec, t0, InfillFormat(bool(body.get("stream")), cid, model.id))


class Events(Endpoint):
    """Telemetry about issued completions, in the shape Tabby's editor extensions send: {type: view | select |
    dismiss, completion_id, choice_index, elapsed (ms)}, plus optional accepted_chars. Recorded once per
    (completion, choice, type) however often it is sent; an id this server never issued is a 404."""

    path = "/v1/events"
    records = False

    async def handle(self, body, receive, send, rec, t0):
        state = self.state
        kind = body.get("type")
        if kind not in EVENT_KINDS:
            raise ApiError(400, f"'type' must be one of {', '.join(EVENT_KINDS)}", param="type")
        cid = body.get("completion_id")
        if not isinstance(cid, str) or not cid:
            raise ApiError(400, "'completion_id' must be the id of a completion this server issued",
                           param="completion_id")
        index = _number(body, "choice_index", 0, int, 0, 1 << 16)
        elapsed = _number(body, "elapsed", None, float, 0, 1e12)
        accepted = body.get("accepted_chars", body.get("accepted_text_length"))
        accepted = _number({"accepted_chars": accepted}, "accepted_chars", None, int, 0, 1 << 30)
        if not state.known(cid):
            raise ApiError(404, f"no completion {cid!r} was issued by this server", code="completion_not_found",
                           param="completion_id")
        key = (cid, index, kind)
        first = key not in state.events_seen
        if first:
            state.events_seen[key] = None
            if len(state.events_seen) > ISSUED_KEPT * 3:
                state.events_seen.popitem(last=False)
            state.recorder.put("completion_events", {
                "completion_id": cid, "choice_index": index, "kind": kind, "elapsed_ms": elapsed,
                "accepted_chars": accepted, "key_name": rec.get("key_name"), "time": rec["time"]})
            if kind == "select" and state.capture:
                context = state.contexts.pop(cid, None)
                if context is not None:
                    asyncio.get_running_loop().run_in_executor(None, _capture, state, cid, context, accepted)
        await _send_json(send, 200, {"recorded": first})


def _capture(state: ServeState, cid: str, context: dict, accepted: int | None) -> None:
    """Keep an accepted completion with its context for the next dataset, unless a secret is found in either."""
    from training.curation.secrets import scan

    text = context["text"][:accepted] if accepted is not None else context["text"]
    if any(scan(part, "capture").live for part in (context["prompt"], context["suffix"], text) if part):
        state.capture_stats["dropped_secret"] += 1
        return
    model_id = (state.issued.get(cid) or (None,))[0]
    state.capture_stats["kept"] += 1
    state.recorder.put("feedback_captures", {"completion_id": cid, "model_id": model_id, "prompt": context["prompt"],
                                             "suffix": context["suffix"], "accepted": text, "time": state.now()})


# -- the plain endpoints --------------------------------------------------------------------------------------------
def create_app(state: ServeState) -> Starlette:
    async def models(request: Request):
        t0 = time.perf_counter()
        rec = {"time": state.now(), "endpoint": "/v1/models", "status": "ok", "http_status": 200}
        try:
            rec["key_name"] = state.authenticate(request.scope)
        except ApiError as exc:
            rec.update(status=exc.record_status, http_status=exc.status, error=exc.code)
            return JSONResponse(exc.body(), status_code=exc.status)
        finally:
            rec["total_ms"] = round((time.perf_counter() - t0) * 1000, 3)
            state.recorder.request(rec)
        data = []
        routes = dict(state._db.execute("SELECT capability, target FROM routes").fetchall())
        for m in state.models.values():
            caps = sorted(c for c, t in routes.items() if state.names.get(t) == m.id)
            data.append({"id": m.id, "object": "model", "created": m.created, "owned_by": "blackroad-studio",
                         "aliases": m.aliases, "capabilities": caps, "quant_type": m.quant_type,
                         "sha256": m.sha256})
            for name in [*m.aliases, *caps]:
                data.append({"id": name, "object": "model", "created": m.created, "owned_by": "blackroad-studio",
                             "resolves_to": m.id})
        return JSONResponse({"object": "list", "data": data})

    async def health(request: Request):
        status = state.pool.status()
        slots = sum(r["slots"] for r in status["loaded"])
        active = sum(r["active"] for r in status["loaded"])
        return JSONResponse({"status": "ok", "models": list(state.models), "slots_idle": slots - active,
                             "slots_processing": active, "queued": sum(r["waiting"] for r in status["loaded"]),
                             "loaded": [r["id"] for r in status["loaded"]]})

    async def http_error(request: Request, exc: HTTPException):
        message = {404: f"no endpoint {request.url.path}", 405: f"{request.method} is not allowed on "
                                                                 f"{request.url.path}"}.get(exc.status_code, exc.detail)
        state.recorder.request({"time": state.now(), "endpoint": request.url.path[:100], "status": "error",
                                "http_status": exc.status_code, "error": "not_found" if exc.status_code == 404
                                else "method_not_allowed"})
        return JSONResponse(ApiError(exc.status_code, message).body(), status_code=exc.status_code)

    async def server_error(request: Request, exc: Exception):
        state.log(f"{request.url.path}: {type(exc).__name__}: {exc}")
        return JSONResponse(ApiError(500, "internal error (logged by the server)").body(), status_code=500)

    routes = [
        Route("/v1/completions", Completions(state), methods=["POST"]),
        Route("/v1/chat/completions", ChatCompletions(state), methods=["POST"]),
        Route("/infill", Infill(state), methods=["POST"]),
        Route("/v1/events", Events(state), methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: server_error})
