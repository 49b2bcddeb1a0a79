"""Running the server: checks before it starts (who may call it, what fits the memory budget), the first model
loaded before the ready line, uvicorn on a socket bound here (port 0 picks a free port), and an orderly stop.

SIGTERM (or Ctrl-C) stops accepting connections, lets in-flight requests finish for up to GRACE_S seconds, cancels
what is left, writes every usage row still queued, and returns (exit code 0).
"""
from __future__ import annotations

import ipaddress
import json
import os
import signal
import socket
import sys
from pathlib import Path

from app.errors import StudioError
from app.workspace import Workspace

GRACE_S = 5
STATE_FILE = "serve.json"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_auth(ws: Workspace, host: str, no_auth: bool) -> bool:
    """Whether requests need a key; StudioError when the combination is refused."""
    from app.keys import live_key_count

    if no_auth:
        if not is_loopback(host):
            raise StudioError(f"--no-auth is allowed on loopback only (127.0.0.1, ::1), not on {host}")
        return False
    with ws.store() as store:
        live = live_key_count(store)
    if live == 0:
        where = "loopback" if is_loopback(host) else host
        raise StudioError(f"serving on {where} needs an API key and there is none: create one with "
                          "`blackroad-studio keys create NAME`" + (", or pass --no-auth (loopback only)"
                                                                   if is_loopback(host) else ""))
    return True


def bind(host: str, port: int) -> socket.socket:
    """The listening socket. Its proto is IPPROTO_TCP (not 0) so that asyncio sets TCP_NODELAY on every accepted
    connection (it checks the proto): without it, a reply written in two pieces (headers, body) or a stream of
    small SSE chunks waits for the client's delayed ACK, ~40 ms a request (measured: 23 events/s on one connection,
    docs/benchmarks.md). Set on the listener too, which Linux hands to accepted sockets."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StudioError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def state_path(ws: Workspace) -> Path:
    return ws.dir("cache") / STATE_FILE


def running(ws: Workspace) -> dict | None:
    """The state file of a server running on this workspace (None when none is, or it is gone)."""
    path = state_path(ws)
    try:
        state = json.loads(path.read_text())
        os.kill(int(state["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return state


def serve(ws: Workspace, names: list[str], *, host: str = "127.0.0.1", port: int = 8080, quant_type: str | None = None,
          no_auth: bool = False, options=None, on_ready=None, log=None, splits: list[str] = (),
          capture: bool = False) -> dict:
    """Serve until SIGTERM/SIGINT; `on_ready({"url", "models"})` is called once the first model is loaded and the
    socket accepts connections. `splits`: 'CAPABILITY=A:0.9,B:0.1' A/B splits (their models are served too);
    `capture`: keep accepted completions with their context (secret-scanned) for the next dataset."""
    # llama.cpp's OpenMP threads sleep when idle instead of spinning: on a busy machine (more runnable threads than
    # cores) spinning made decoding 5-10x slower (docs/benchmarks.md, "Serving"); set before llama.cpp loads
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import uvicorn

    from app.serve import catalog
    from app.serve.api import create_app
    from app.serve.splits import parse_split
    from app.serve.state import ServeState
    from app.serve.engine import EngineOptions, Pool
    from training.fileio import atomic_write_text

    log = log or (lambda message: print(f"serve: {message}", file=sys.stderr, flush=True))
    auth = check_auth(ws, host, no_auth)
    parsed = {}
    for text in splits:
        try:
            capability, arms = parse_split(text)
        except ValueError as exc:
            raise StudioError(str(exc)) from None
        parsed[capability] = arms
    models = catalog.build(ws, names, quant_type)
    extra = [arm for arms in parsed.values() for arm, _ in arms]
    if extra:
        models = catalog.build(ws, list(dict.fromkeys([*(names or [m.id for m in models]), *extra])), quant_type)
    by_name = {n: m.id for m in models for n in (m.id, *m.aliases)}
    with ws.store() as store:
        from app.routes import resolve

        parsed = {cap: [(by_name.get(arm) or resolve(store, arm), w) for arm, w in arms] for cap, arms in parsed.items()}
    for cap, arms in parsed.items():
        if any(model_id not in by_name.values() for model_id, _ in arms):
            raise StudioError(f"--split {cap}: every arm must be a model served here")
    if capture:
        log("--capture is on: accepted completions are kept with their context (secret-scanned) for the next "
            "dataset snapshot")
    pool = Pool(models, options or EngineOptions(), log=log)
    sock = bind(host, port)
    url = url_of(sock)
    state = ServeState(ws, models, pool, auth=auth, log=log, splits=parsed, capture=capture)
    app = create_app(state)
    ready = {"url": url, "models": [m.describe() for m in models], "auth": auth, "pid": os.getpid()}

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await pool.runner(models[0].id)  # the first model answers the first request without a load
            await super().startup(sockets=sockets)
            if self.started:
                atomic_write_text(state_path(ws), json.dumps(ready))
                if on_ready:
                    on_ready(ready)

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=GRACE_S, timeout_keep_alive=30)
    server = Server(config)
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run(sockets=[sock])  # uvicorn re-raises a caught signal on return: the no-op handlers take it
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        state.close()  # unload the models, then write the usage rows still queued
        sock.close()
        try:
            if json.loads(state_path(ws).read_text()).get("pid") == os.getpid():
                state_path(ws).unlink()
        except (OSError, ValueError):
            pass
    return {"url": url, "models": [m.id for m in models], "recorded": state.recorder.written,
            "record_failures": state.recorder.failed, "captures": state.capture_stats}
