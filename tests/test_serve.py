"""The serve endpoint, live on loopback: the real `openai` client and raw HTTP (httpx) against `blackroad-studio
serve` started as a subprocess on a free port, on the embedded SmolLM2 GGUF (chat template, no FIM tokens) and a
tiny Qwen2 exported to GGUF (FIM tokens, a 512-token context). Every server a test starts is stopped by it."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest

from cli_runner import run_cli
from serve_live import INTERNAL, SMOL, TINY, Live, cli_json, db_rows, make_serve_workspace, wait_rows

PREFIX = "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n"
SUFFIX = "\n\nprint(fibonacci(10))\n"
COUNTING = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,"  # greedy SmolLM2 goes on counting: a long generation


@pytest.fixture(scope="module")
def serve_ws(tmp_path_factory, tiny_qwen2):
    return make_serve_workspace(tmp_path_factory.mktemp("serve") / "ws", tiny_qwen2)


@pytest.fixture(scope="module")
def key(serve_ws):
    return cli_json(serve_ws, "keys", "create", "editor")["key"]


@pytest.fixture(scope="module")
def server(serve_ws, key, tmp_path_factory):
    live = Live(serve_ws.root, INTERNAL, TINY, log=tmp_path_factory.mktemp("logs") / "serve.log")
    yield live
    assert live.stop() == 0


def _openai(server, key):
    from openai import OpenAI

    return OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0, timeout=60)


def _local(path):
    from eval.llama_backend import LlamaBackend

    return LlamaBackend(path, n_ctx=512)


def test_ready_line_models_and_aliases(server, key, serve_ws):
    assert server.url.startswith("http://127.0.0.1:")
    assert [m["id"] for m in server.info["models"]] == [INTERNAL, TINY]
    cli_json(serve_ws, "route", "set", "code-generation", "internal/coder")
    listed = {m.id: m for m in _openai(server, key).models.list().data}
    assert set(listed) >= {INTERNAL, TINY, "internal/coder", "code-generation"}
    assert listed[INTERNAL].model_extra["aliases"] == ["internal/coder"]
    assert listed[INTERNAL].model_extra["capabilities"] == ["code-generation"]  # a route set while serving
    assert listed["code-generation"].model_extra["resolves_to"] == INTERNAL
    health = httpx.get(server.url + "/health").json()
    assert health["status"] == "ok" and health["loaded"] == [INTERNAL] and health["slots_idle"] == 1


def test_completions_fim_stream_and_greedy_parity(server, key, serve_ws):
    client = _openai(server, key)
    with serve_ws.store() as store:
        tiny_gguf = store.artifacts(TINY, "gguf")[-1]["path"]
        smol_gguf = store.artifacts(SMOL, "gguf")[0]["path"]
    # suffix → the model's FIM format (the tiny Qwen2 has <|fim_prefix|>...); the prompt counts say which it got
    tiny = _local(tiny_gguf)
    fim = client.completions.create(model=TINY, prompt=PREFIX, suffix=SUFFIX, max_tokens=6, temperature=0)
    assert fim.usage.prompt_tokens == len(tiny.tokenize(tiny.fim.psm(PREFIX, SUFFIX)))
    plain = client.completions.create(model=TINY, prompt=PREFIX, max_tokens=6, temperature=0)
    assert plain.usage.prompt_tokens == len(tiny.tokenize(PREFIX)) < fim.usage.prompt_tokens
    tiny.close()
    # through the alias of the capability route: greedy text equals the engine's own greedy completion
    local = _local(smol_gguf)
    expected = local.complete(PREFIX, max_tokens=24, reuse=False)
    local.close()
    out = client.completions.create(model="code-generation", prompt=PREFIX, max_tokens=24, temperature=0)
    assert out.model == INTERNAL and out.id.startswith("cmpl-")
    assert out.choices[0].text == expected.text and out.usage.completion_tokens == expected.tokens
    assert out.choices[0].finish_reason == ("length" if expected.stopped_by == "max_tokens" else "stop")
    pieces = [c.choices[0].text for c in client.completions.create(
        model="internal/coder", prompt=PREFIX, max_tokens=24, temperature=0, stream=True)]
    assert len(pieces) > 3 and "".join(pieces) == expected.text
    stopped = client.completions.create(model=INTERNAL, prompt=PREFIX, max_tokens=24, temperature=0, stop=["\n"])
    assert "\n" not in stopped.choices[0].text and expected.text.startswith(stopped.choices[0].text)
    assert stopped.choices[0].finish_reason == "stop"


def test_chat_and_chat_stream(server, key):
    client = _openai(server, key)
    messages = [{"role": "user", "content": "Write a Python function that adds two numbers."}]
    whole = client.chat.completions.create(model="internal/coder", messages=messages, max_tokens=24, temperature=0)
    text = whole.choices[0].message.content
    assert whole.object == "chat.completion" and whole.choices[0].message.role == "assistant" and text.strip()
    assert whole.usage.completion_tokens <= 24
    chunks = list(client.chat.completions.create(model="internal/coder", messages=messages, max_tokens=24,
                                                 temperature=0, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == text
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_infill_like_llama_vim(server, key):
    headers = {"Authorization": f"Bearer {key}"}
    body = {"input_prefix": PREFIX, "input_suffix": SUFFIX, "prompt": "    ", "n_predict": 8,
            "input_extra": [{"filename": "util.py", "text": "def add(a, b):\n    return a + b\n"}],
            "samplers": ["top_k", "top_p", "infill"], "cache_prompt": True, "t_max_predict_ms": 500}
    out = httpx.post(server.url + "/infill", json=body, headers=headers, timeout=60).json()
    assert out["stop"] is True and out["tokens_predicted"] <= 8 and isinstance(out["content"], str)
    assert out["model"] == INTERNAL and out["timings"]["predicted_n"] == out["tokens_predicted"]
    again = httpx.post(server.url + "/infill", json=body, headers=headers, timeout=60).json()
    assert again["content"] == out["content"] and again["tokens_cached"] > 0  # the slot kept the prefix
    events = []
    with httpx.stream("POST", server.url + "/infill", json={**body, "stream": True}, headers=headers,
                      timeout=60) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        for line in resp.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    assert events[-1]["stop"] is True and all(not e["stop"] for e in events[:-1])
    assert "".join(e["content"] for e in events) == out["content"]


def test_errors_are_openai_objects_and_the_server_lives(server, key):
    auth = {"Authorization": f"Bearer {key}"}
    url = server.url
    cases = [
        (httpx.post(url + "/v1/completions", json={"prompt": "x"}), 401, "invalid_api_key"),
        (httpx.post(url + "/v1/completions", json={"prompt": "x"}, headers={"Authorization": "Bearer brs-nope"}),
         401, "invalid_api_key"),
        (httpx.post(url + "/v1/completions", content=b"{not json", headers=auth), 400, "invalid_json"),
        (httpx.post(url + "/v1/completions", content=b"[1, 2]", headers=auth), 400, "invalid_json"),
        (httpx.post(url + "/v1/completions", content=b" " * ((1 << 20) + 1), headers=auth), 413,
         "request_too_large"),
        (httpx.post(url + "/v1/completions", json={"model": "internal/nope", "prompt": "x"}, headers=auth), 404,
         "model_not_found"),
        (httpx.post(url + "/v1/completions", json={"model": TINY, "prompt": "x", "temperature": "hot"},
                    headers=auth), 400, None),
        (httpx.post(url + "/v1/completions", json={"model": TINY, "prompt": "x", "n": 3}, headers=auth), 400, None),
        (httpx.get(url + "/v1/nothing", headers=auth), 404, None),
    ]
    for resp, status, code in cases:
        assert resp.status_code == status, (resp.request.url, resp.text)
        err = resp.json()["error"]
        assert err["message"] and "Traceback" not in resp.text and err["type"]
        if code:
            assert err["code"] == code
    # a prompt beyond the tiny model's 512-token context: 400 with the counts
    too_long = httpx.post(url + "/v1/completions", headers=auth, timeout=60,
                          json={"model": TINY, "prompt": "def f(x):\n    return x\n" * 200, "max_tokens": 16})
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "context_length_exceeded"
    message = too_long.json()["error"]["message"]
    assert "512 tokens" in message and "16 for the completion" in message
    assert httpx.get(url + "/health").json()["status"] == "ok"
    ok = httpx.post(url + "/v1/completions", json={"model": TINY, "prompt": "x", "max_tokens": 2}, headers=auth)
    assert ok.status_code == 200


def test_revoked_key_refused_without_restart(server, serve_ws):
    second = cli_json(serve_ws, "keys", "create", "agent")["key"]
    auth = {"Authorization": f"Bearer {second}"}
    body = {"model": TINY, "prompt": "x", "max_tokens": 1}
    assert httpx.post(server.url + "/v1/completions", json=body, headers=auth).status_code == 200
    cli_json(serve_ws, "keys", "revoke", "agent")
    refused = httpx.post(server.url + "/v1/completions", json=body, headers=auth)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    listed = {k["name"]: k for k in cli_json(serve_ws, "keys", "list")["keys"]}
    assert listed["agent"]["revoked"] and listed["editor"]["revoked"] is None
    assert listed["agent"]["last_used"] is not None
    raw = serve_ws.db_path.read_bytes() + Path(str(serve_ws.db_path) + "-wal").read_bytes()
    assert second.encode() not in raw and second[:20].encode() not in raw  # only the hash and a short prefix


def test_usage_rows_and_summary(server, serve_ws, key):
    rows = wait_rows(serve_ws, 20)
    assert {r["status"] for r in rows} >= {"ok", "error", "rejected"}
    ok = [r for r in rows if r["status"] == "ok" and r["endpoint"] == "/v1/completions"]
    assert ok and all(r["model_id"] and r["artifact_sha256"] and r["key_name"] in ("editor", "agent") for r in ok)
    assert all(r["total_ms"] >= (r["first_token_ms"] or 0) > 0 and r["prompt_tokens"] > 0 for r in ok)
    assert any(r["requested"] == "code-generation" and r["capability"] == "code-generation" for r in ok)
    for r in rows:  # never the text of a prompt or a completion
        assert not any(isinstance(v, str) and "fibonacci" in v for v in r.values())
    summary = cli_json(serve_ws, "usage", "--since", "1h")
    assert summary["requests"] == len(db_rows(serve_ws))
    smol = summary["by_model"][INTERNAL]
    assert smol["ok"] >= 5 and 0 < smol["p50_ms"] <= smol["p95_ms"] <= smol["p99_ms"]
    assert smol["first_token_p95_ms"] > 0 and smol["tokens_per_second"] > 0
    assert summary["by_key"]["editor"]["requests"] > 0 and summary["by_key"]["(no key)"]["rejected"] >= 1
    only = cli_json(serve_ws, "usage", "internal/coder", "--since", "all")
    assert only["model"] == INTERNAL and only["requests"] == summary["by_model"][INTERNAL]["requests"]


def _stream_lines(url, body, headers, n, done: threading.Event | None = None):
    """Open a streamed completion, read n data lines, then drop the connection."""
    with httpx.Client(timeout=60) as c, c.stream("POST", url + "/v1/completions", json=body, headers=headers) as r:
        assert r.status_code == 200
        got = 0
        for line in r.iter_lines():
            if line.startswith("data: "):
                got += 1
                if got >= n:
                    break
        if done is not None:
            done.wait(60)
    return got


@pytest.fixture(scope="module")
def one_slot(serve_ws, tmp_path_factory):
    live = Live(serve_ws.root, INTERNAL, "--no-auth", "--queue", "1",
                log=tmp_path_factory.mktemp("logs") / "one-slot.log")
    yield live
    assert live.stop() == 0


def test_abandoned_stream_frees_its_slot(one_slot, serve_ws):
    long = {"model": INTERNAL, "prompt": COUNTING, "max_tokens": 2000, "temperature": 0, "stream": True}
    before = len(db_rows(serve_ws))
    assert _stream_lines(one_slot.url, long, {}, 2) == 2  # two tokens, then the editor moves on
    t0 = time.monotonic()
    nxt = httpx.post(one_slot.url + "/v1/completions", timeout=60,
                     json={"model": INTERNAL, "prompt": PREFIX, "max_tokens": 4, "temperature": 0})
    waited = time.monotonic() - t0
    assert nxt.status_code == 200 and waited < 5.0, waited  # 2000 tokens would take 30 s and more
    rows = wait_rows(serve_ws, before + 2)[before:]
    abandoned = next(r for r in rows if r["status"] == "cancelled")
    assert abandoned["http_status"] == 499 and 2 <= abandoned["completion_tokens"] < 100
    assert httpx.get(one_slot.url + "/health").json()["slots_processing"] == 0


def test_full_queue_answers_503_with_retry_after(one_slot):
    long = {"model": INTERNAL, "prompt": COUNTING, "max_tokens": 2000, "temperature": 0, "stream": True}
    release = threading.Event()
    running = threading.Thread(target=_stream_lines, args=(one_slot.url, long, {}, 1, release))
    running.start()
    try:
        deadline = time.monotonic() + 30
        while httpx.get(one_slot.url + "/health").json()["slots_processing"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        waiting = threading.Thread(target=lambda: httpx.post(one_slot.url + "/v1/completions", json={
            "model": INTERNAL, "prompt": "x", "max_tokens": 1}, timeout=60))
        waiting.start()
        while httpx.get(one_slot.url + "/health").json()["queued"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        refused = httpx.post(one_slot.url + "/v1/completions", json={"model": INTERNAL, "prompt": "x"}, timeout=60)
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert refused.json()["error"]["code"] == "overloaded"
    finally:
        release.set()
        running.join(60)
    waiting.join(60)
    assert httpx.get(one_slot.url + "/health").json()["queued"] == 0


def test_sigterm_finishes_in_flight_requests_and_records_them(serve_ws, tmp_path):
    live = Live(serve_ws.root, INTERNAL, "--no-auth", log=tmp_path / "serve.log")
    before = len(db_rows(serve_ws))
    result = {}

    def call():
        result["resp"] = httpx.post(live.url + "/v1/completions", timeout=60, json={
            "model": INTERNAL, "prompt": COUNTING, "max_tokens": 40, "temperature": 0})

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 30
    while httpx.get(live.url + "/health").json()["slots_processing"] < 1:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    t0 = time.monotonic()
    assert live.stop() == 0
    caller.join(60)
    assert time.monotonic() - t0 < 10
    assert result["resp"].status_code == 200 and result["resp"].json()["usage"]["completion_tokens"] == 40
    rows = db_rows(serve_ws)[before:]
    assert [r["status"] for r in rows if r["endpoint"] == "/v1/completions"] == ["ok"]
    assert not (serve_ws.root / "cache" / "serve.json").exists()


def test_models_beyond_the_memory_budget_take_turns(serve_ws, tmp_path):
    # each SmolLM2 slot is ~0.2 GiB with its 4096-token cache: a 0.3 GiB budget holds one at a time
    live = Live(serve_ws.root, INTERNAL, SMOL, "--no-auth", "--memory-budget", "0.3", log=tmp_path / "serve.log")
    try:
        url = live.url
        assert httpx.get(url + "/health").json()["loaded"] == [INTERNAL]
        for model, loaded in ((SMOL, [SMOL]), (INTERNAL, [INTERNAL])):
            out = httpx.post(url + "/v1/completions", json={"model": model, "prompt": "x", "max_tokens": 2},
                             timeout=60)
            assert out.status_code == 200 and out.json()["model"] == model
            assert httpx.get(url + "/health").json()["loaded"] == loaded
    finally:
        assert live.stop() == 0
    assert "(least recently used)" in (tmp_path / "serve.log").read_text()


def test_auth_rules_and_client_configs(serve_ws):
    refused = run_cli("--workspace", str(serve_ws.root), "serve", "--host", "0.0.0.0", "--no-auth")
    assert refused.returncode == 1 and "loopback only" in refused.stderr and "Traceback" not in refused.stderr
    empty = run_cli("--workspace", str(serve_ws.root / "fresh"), "serve")
    assert empty.returncode == 1 and "error:" in empty.stderr
    cfg = run_cli("--workspace", str(serve_ws.root), "serve", TINY, "--print-config", "continue", "--port", "9999")
    assert cfg.returncode == 0 and "apiBase: http://127.0.0.1:9999/v1" in cfg.stdout and TINY in cfg.stdout
    vim = run_cli("--workspace", str(serve_ws.root), "serve", "--print-config", "llama.vim", "--no-auth")
    assert "'endpoint': 'http://127.0.0.1:8080/infill'" in vim.stdout and "api_key" not in vim.stdout


def test_routes_and_keys_cli(serve_ws, key):  # key: the "editor" key exists (created by the fixture)
    routes = cli_json(serve_ws, "route", "set", "code-review", INTERNAL)
    assert {"capability": "code-review", "target": INTERNAL} in [
        {k: r[k] for k in ("capability", "target")} for r in routes["routes"]]
    bad = run_cli("--workspace", str(serve_ws.root), "route", "set", "x", "internal/none")
    assert bad.returncode == 1 and "neither a model id" in bad.stderr
    removed = cli_json(serve_ws, "route", "remove", "code-review")
    assert "code-review" not in [r["capability"] for r in removed["routes"]]
    kinds = [r["kind"] for r in db_rows(serve_ws, "SELECT kind FROM events WHERE kind LIKE 'route.%' "
                                                "OR kind LIKE 'key.%'")]
    assert "route.set" in kinds and "route.removed" in kinds and "key.created" in kinds
    dup = run_cli("--workspace", str(serve_ws.root), "keys", "create", "editor")
    assert dup.returncode == 1 and "exists" in dup.stderr


def test_the_server_never_imports_textual():
    import subprocess
    import sys

    code = ("import sys, app.serve.server, app.serve.api, app.serve.engine, app.commands.serve, app.usage; "
            "print(sorted(k for k in sys.modules if k == 'textual' or k.startswith('textual.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(Path(__file__).parent.parent))
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr
