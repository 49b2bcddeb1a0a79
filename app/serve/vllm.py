"""`serve --engine vllm`: the same model names through vLLM's OpenAI server, for GPU fleets.

One model is served from its merged HF weights (`--model DIR --served-model-name ID ALIAS...`). Several research
models trained on one base are served as that base plus their LoRA adapters (`--enable-lora --lora-modules
ID=ADAPTER ...`), each adapter under its id and aliases. vLLM checks keys through KeyCheck, an ASGI middleware it
loads by import path (`--middleware`): the same hashed keys as the llama.cpp server, revocation included, and a
usage row per request (status, key, total time; token counts are in vLLM's own metrics).
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time

from app.errors import StudioError
from app.workspace import Workspace


def _weights(store, model_id: str) -> dict:
    """{hf: merged/HF dir or None, adapter: adapter dir or None, base: the fork's HF dir or None}."""
    from pathlib import Path

    chain = store.chain(model_id)
    model = chain[0]
    details = model.get("details") or {}
    hf = model.get("path") or details.get("merged_path")
    adapter, base = None, None
    for m in chain:  # a promoted model keeps its research ancestor's adapter
        d = m.get("details") or {}
        adapter = adapter or d.get("adapter_path")
        if m["stage"] == "forkies":
            base = m.get("path")
    ok = lambda p: p if p and Path(p).exists() else None
    return {"hf": ok(hf) if hf and (Path(hf) / "config.json").is_file() else None, "adapter": ok(adapter),
            "base": ok(base)}


def command(ws: Workspace, names: list[str], host: str, port: int, no_auth: bool) -> tuple[list[str], list[str]]:
    """(argv of vLLM's OpenAI server, the model ids it serves)."""
    from app import routes as routing
    from app.serve import catalog

    with ws.store() as store:
        ids = [routing.resolve(store, n) or n for n in names] if names else catalog.default_ids(store)
        if not ids:
            raise StudioError("no model to serve in this workspace")
        for model_id in ids:
            store.require_model(model_id)
        served = {i: [i, *routing.aliases_of(store, i),
                      *[r["capability"] for r in routing.routes(store) if r["resolves_to"] == i]] for i in ids}
        weights = {i: _weights(store, i) for i in ids}
    argv = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--host", host, "--port", str(port)]
    if not no_auth:
        argv += ["--middleware", "app.serve.vllm.KeyCheck"]
    if len(ids) == 1 and weights[ids[0]]["hf"]:
        return argv + ["--model", weights[ids[0]]["hf"], "--served-model-name", *served[ids[0]]], ids
    bases = {w["base"] for w in weights.values()}
    if len(bases) != 1 or None in bases or not all(w["adapter"] for w in weights.values()):
        raise StudioError("vLLM serves one merged model per process, or LoRA adapters of one base: start one "
                          "`serve --engine vllm MODEL --port P` per model (these need: "
                          + ", ".join(f"{i} ({'merged weights' if w['hf'] else 'no weights'})"
                                      for i, w in weights.items()) + ")")
    modules = [f"{name}={weights[i]['adapter']}" for i in ids for name in served[i]]
    return argv + ["--model", bases.pop(), "--enable-lora", "--max-loras", str(len(ids)),
                   "--lora-modules", *modules], ids


def serve_vllm(ws: Workspace, names: list[str], *, host: str, port: int, no_auth: bool, on_ready=None) -> None:
    from app.serve.server import check_auth

    check_auth(ws, host, no_auth)
    argv, ids = command(ws, names, host, port, no_auth)
    if importlib.util.find_spec("vllm") is None:
        raise StudioError("--engine vllm needs vLLM (pip install vllm, on a machine with a GPU); the command would be: "
                          + " ".join(argv))
    env = {**os.environ, "BLACKROAD_STUDIO_HOME": str(ws.root)}
    proc = subprocess.Popen(argv, env=env)
    url = f"http://{host}:{port}"
    try:
        import httpx

        while proc.poll() is None:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        if proc.poll() is None and on_ready:
            on_ready({"url": url, "models": [{"id": i} for i in ids], "auth": not no_auth})
        rc = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        rc = proc.wait()
    if rc not in (0, -15):
        raise StudioError(f"vLLM exited with code {rc}")


class KeyCheck:
    """ASGI middleware for vLLM's server: Bearer keys checked against the store's hashes, one usage row a request."""

    def __init__(self, app):
        from app.serve.recorder import Recorder

        self.app = app
        self.ws = Workspace.open(os.environ.get("BLACKROAD_STUDIO_HOME"), create=False)
        self.recorder = Recorder(self.ws)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in ("/health", "/ping", "/metrics"):
            return await self.app(scope, receive, send)
        from app.keys import key_name
        from app.store import iso

        t0 = time.perf_counter()
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        scheme, _, key = header.partition(" ")
        with self.ws.store() as store:
            name = key_name(store, key.strip()) if scheme.lower() == "bearer" and key.strip() else None
        rec = {"time": iso(self.ws.clock()), "endpoint": scope["path"][:100], "key_name": name}
        status = [200]

        async def tracked(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            if name is None:
                body = json.dumps({"error": {"message": "the API key is missing, wrong or revoked",
                                             "type": "authentication_error", "param": None,
                                             "code": "invalid_api_key"}}).encode()
                await tracked({"type": "http.response.start", "status": 401,
                               "headers": [(b"content-type", b"application/json")]})
                await send({"type": "http.response.body", "body": body})
                return
            await self.app(scope, receive, tracked)
        finally:
            code = status[0]
            rec.update(http_status=code, total_ms=round((time.perf_counter() - t0) * 1000, 3),
                       status="ok" if code < 400 else ("rejected" if code in (401, 429, 503) else "error"))
            self.recorder.request(rec)
