"""`serve [MODEL ...]`: the models over HTTP (OpenAI + llama.cpp endpoints); `usage [MODEL]`: what was served."""
from __future__ import annotations

import sys
from typing import List, Optional, Tuple

import typer

from app.commands.common import JSON_OPTION, emit, workspace
from app.errors import StudioError


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(ctx: typer.Context,
                  models: Optional[List[str]] = typer.Argument(
                      None, help="Model ids, aliases (internal/NAME, production/NAME) or capabilities; default: every "
                                 "internal and production model (a demo workspace: its models)."),
                  host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (not loopback: keys needed)."),
                  port: int = typer.Option(8080, "--port", help="Port (0: a free one, printed in the ready line)."),
                  quant_type: Optional[str] = typer.Option(None, "--type", help="GGUF type to serve (default: the "
                                                           "first of q4_0, q4_k_m, ..., f32 the model has)."),
                  no_auth: bool = typer.Option(False, "--no-auth", help="No API keys (loopback only)."),
                  engine: str = typer.Option("llama.cpp", "--engine", help="llama.cpp (GGUF) or vllm (HF weights, GPU)."),
                  slots: int = typer.Option(1, "--slots", help="Concurrent generations per model (each its own KV cache)."),
                  ctx_len: int = typer.Option(4096, "--ctx", help="Context length of each slot, in tokens."),
                  threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads per generation (default: all)."),
                  queue: int = typer.Option(16, "--queue", help="Requests waiting per model before 503 + Retry-After."),
                  memory_budget: Optional[float] = typer.Option(
                      None, "--memory-budget", help="GiB for loaded models (default: 60% of available memory); the "
                                                    "least recently used idle model is unloaded to stay within it."),
                  split: Optional[List[str]] = typer.Option(
                      None, "--split", help="A/B split of a capability: CAPABILITY=MODEL_A:0.9,MODEL_B:0.1 (sticky "
                                            "per key, recorded per request); repeat for several capabilities."),
                  capture: bool = typer.Option(False, "--capture", help="Keep accepted completions with their context "
                                                                        "(secret-scanned) for `curate --feedback`."),
                  print_config: Optional[str] = typer.Option(
                      None, "--print-config", help="Print the configuration of a client for the running server "
                                                   "(continue, llama.vim, llama.vscode, openai) and exit."),
                  as_json: bool = JSON_OPTION) -> None:
        """Serve models to editors and agents: OpenAI /v1/completions (suffix → fill-in-the-middle),
        /v1/chat/completions, /v1/models, llama.cpp /infill, /health; every request recorded in the store."""
        ws = workspace(ctx)
        if print_config is not None:
            return _print_config(ws, print_config, models or [], host, port, quant_type, no_auth)
        for name, value, low in (("--slots", slots, 1), ("--ctx", ctx_len, 256), ("--queue", queue, 0),
                                 ("--port", port, 0)):
            if value < low:
                raise StudioError(f"{name} must be at least {low}, got {value}")
        if engine == "vllm":
            from app.serve.vllm import serve_vllm

            return serve_vllm(ws, models or [], host=host, port=port, no_auth=no_auth, on_ready=_ready(as_json))
        if engine != "llama.cpp":
            raise StudioError(f"--engine must be llama.cpp or vllm, not {engine!r}")
        from app.serve.engine import EngineOptions
        from app.serve.server import serve
        from training.memory import available_bytes

        budget = int(memory_budget * 2**30) if memory_budget else int(available_bytes("cpu") * 0.6)
        options = EngineOptions(slots=slots, n_ctx=ctx_len, threads=threads, queue=queue, budget_bytes=budget)
        result = serve(ws, models or [], host=host, port=port, quant_type=quant_type, no_auth=no_auth,
                       options=options, on_ready=_ready(as_json), splits=split or [], capture=capture)
        print(f"serve: stopped; {result['recorded']} row(s) recorded", file=sys.stderr, flush=True)
        if capture:
            print(f"serve: --capture kept {result['captures']['kept']} accepted completion(s), "
                  f"{result['captures']['dropped_secret']} dropped for secrets", file=sys.stderr, flush=True)

    @app.command("usage")
    def usage_cmd(ctx: typer.Context,
                  model: Optional[str] = typer.Argument(None, help="A model id or alias; all models when left out."),
                  since: str = typer.Option("1d", "--since", help="Window: 90s, 15m, 6h, 1d, 2w, an ISO time, or all."),
                  compare: Optional[Tuple[str, str]] = typer.Option(
                      None, "--compare", help="Two models side by side: acceptance and latency with the interval "
                                              "of each difference."),
                  as_json: bool = JSON_OPTION) -> None:
        """Requests served: counts by status, p50/p95/p99 of total and first-token ms, tokens/s and acceptance (with
        its Wilson interval), by model, capability and key."""
        from app.usage import compare as compare_models
        from app.usage import render, render_compare, usage

        if compare:
            if model is not None:
                raise StudioError("give either MODEL or --compare A B, not both")
            emit(compare_models(workspace(ctx), compare[0], compare[1], since), as_json, render_compare)
            return
        emit(usage(workspace(ctx), model, since), as_json, render)


def _ready(as_json: bool):
    def on_ready(info: dict) -> None:
        if as_json:
            emit({"url": info["url"], "models": info["models"]}, True)
        else:
            names = ", ".join(m["id"] for m in info["models"])
            print(f"serving at {info['url']}: {names}" + ("" if info.get("auth", True) else " (no keys: loopback only)"))
        sys.stdout.flush()

    return on_ready


def _print_config(ws, client: str, names: list[str], host: str, port: int, quant_type, no_auth: bool) -> None:
    from app.serve import catalog
    from app.serve.clients import config_for
    from app.serve.server import running

    state = running(ws)
    if state is not None:
        url, models, auth = state["url"], state["models"], state["auth"]
    else:
        print(f"no server is running on this workspace; the configuration is for one started with --host {host} "
              f"--port {port}", file=sys.stderr)
        url = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
        models, auth = [m.describe() for m in catalog.build(ws, names, quant_type)], not no_auth
    print(config_for(client, url, models, auth))
