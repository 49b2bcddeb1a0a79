"""The Starlette application: OpenAI `/v1/completions` (suffix → FIM), `/v1/chat/completions`, `/v1/models`,
llama.cpp's `/infill`, and `/health`.

The generation endpoints are plain ASGI callables under Starlette's router, so each request reads its body once
(at most 1 MiB), then watches its connection: when the client goes away, the generation's cancel event is set
(llama.cpp stops at the next token, or between prompt pieces) and a request still waiting for a slot leaves the
queue. Errors are OpenAI error objects; nothing a client sends shows it a traceback or stops the server.
"""
from __future__ import annotations

import asyncio
import threading
import time
import uuid

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.serve.catalog import ServedModel
from app.serve.engine import Busy
from app.serve.protocol import (DONE, GONE, ApiError, ClientGone, CompletionFormat, Generation, InfillFormat,
                                number_param, read_json, refuse_unsupported, run_generation, send_json, stops_param,
                                text_param)
from app.serve.state import ISSUED_KEPT, ServeState

DEFAULT_INFILL_PREDICT = 128
EVENT_KINDS = ("view", "select", "dismiss")


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
            body = await read_json(scope, receive)
            await self.handle(body, receive, tracked_send, rec, t0)
        except ApiError as exc:
            rec.update(status=exc.record_status, http_status=exc.status, error=exc.code or exc.TYPES.get(exc.status))
            if not sent[0]:
                await send_json(send, exc.status, exc.body(), exc.headers)
        except ClientGone:
            rec.update(status="cancelled", http_status=499, error="client_closed")
        except asyncio.CancelledError:  # the server stopped past its grace period
            rec.update(status="cancelled", http_status=503, error="shutdown")
            raise
        except Exception as exc:  # a bug: one line in the log, an error object to the client, the server lives on
            state.log(f"{self.path}: {type(exc).__name__}: {exc}")
            rec.update(status="error", http_status=500, error="internal_error")
            if not sent[0]:
                await send_json(send, 500, ApiError(500, "internal error (logged by the server)").body())
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
                    pieces.put_nowait(GONE)
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
            job = runner.run(slot, run_generation, gen, lambda text: loop.call_soon_threadsafe(put, text), cancel)
            job.add_done_callback(lambda _f: put(DONE))
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


def _completion_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


class Completions(Endpoint):
    path = "/v1/completions"

    async def handle(self, body, receive, send, rec, t0):
        from eval.prompts import completion_prompt, completion_stops

        refuse_unsupported(body)
        model = self.state.resolve(body.get("model"), rec)
        prompt = text_param(body, "prompt", required=True)
        suffix = text_param(body, "suffix")
        gen = Generation(prompt=prompt, max_tokens=number_param(body, "max_tokens", 16, int, 1, 1 << 20),
                         stop=stops_param(body), temperature=number_param(body, "temperature", 1.0, float, 0.0, 2.0),
                         top_p=number_param(body, "top_p", 1.0, float, 0.0, 1.0),
                         seed=number_param(body, "seed", None, int, -(1 << 63), (1 << 63) - 1))
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

        refuse_unsupported(body)
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
                         max_tokens=number_param({"max_tokens": limit}, "max_tokens", 512, int, 1, 1 << 20),
                         stop=stops_param(body), temperature=number_param(body, "temperature", 1.0, float, 0.0, 2.0),
                         top_p=number_param(body, "top_p", 1.0, float, 0.0, 1.0),
                         seed=number_param(body, "seed", None, int, -(1 << 63), (1 << 63) - 1))
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
        prefix, suffix = text_param(body, "input_prefix"), text_param(body, "input_suffix")
        middle = text_param(body, "prompt")
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
                         max_tokens=number_param({"n_predict": n_predict}, "n_predict", DEFAULT_INFILL_PREDICT, int, 1,
                                            1 << 20),
                         stop=stops_param(body) + completion_stops(fim),
                         temperature=number_param(body, "temperature", 0.0, float, 0.0, 2.0),
                         top_p=number_param(body, "top_p", 1.0, float, 0.0, 1.0),
                         seed=number_param(body, "seed", None, int, -(1 << 63), (1 << 63) - 1))
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
        index = number_param(body, "choice_index", 0, int, 0, 1 << 16)
        elapsed = number_param(body, "elapsed", None, float, 0, 1e12)
        accepted = body.get("accepted_chars", body.get("accepted_text_length"))
        accepted = number_param({"accepted_chars": accepted}, "accepted_chars", None, int, 0, 1 << 30)
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
        await send_json(send, 200, {"recorded": first})


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
