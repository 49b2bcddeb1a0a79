"""Staging telemetry on a live server: /v1/events recorded exactly once, acceptance with Wilson intervals (checked
against published values), sticky A/B splits (proportions over 10k keys, and live per key), `usage --compare`."""
from __future__ import annotations


import httpx
import pytest

from serve_live import INTERNAL, SMOL, Live, cli_json, db_rows, make_serve_workspace, wait_rows


def test_wilson_and_newcombe_against_published_values():
    from app.usage import newcombe
    from eval.stats import wilson

    # Newcombe (1998), Statistics in Medicine 17: 81/263 → 0.2553..0.3662 (score method);
    # 56/70 - 48/80 → 0.0524..0.3339 (hybrid score, method 10)
    lo, hi = wilson(81, 263)
    assert round(lo, 4) == 0.2553 and round(hi, 4) == 0.3662
    assert newcombe((56, 70), (48, 80)) == [0.0524, 0.3339]


def test_split_is_sticky_and_proportional_over_10k_keys():
    from app.serve.splits import choose_arm, parse_split

    capability, arms = parse_split("code-generation=internal/a/v1:0.9,internal/b/v1:0.1")
    picks = [choose_arm(capability, f"key-{i}", arms) for i in range(10_000)]
    share = picks.count("internal/b/v1") / len(picks)
    assert abs(share - 0.1) < 0.015, share  # binomial sd is 0.003
    assert all(choose_arm(capability, f"key-{i}", arms) == picks[i] for i in range(0, 10_000, 97))
    for bad in ("code-generation", "c=a:0.5", "c=a:x,b:1", "c=a:0,b:1"):
        with pytest.raises(ValueError):
            parse_split(bad)


@pytest.fixture(scope="module")
def staged(tmp_path_factory, tiny_qwen2):
    ws = make_serve_workspace(tmp_path_factory.mktemp("staging") / "ws", tiny_qwen2)
    keys = [cli_json(ws, "keys", "create", f"user-{i}")["key"] for i in range(6)]
    live = Live(ws.root, "--split", f"code-generation={INTERNAL}:0.5,{SMOL}:0.5",
                log=tmp_path_factory.mktemp("logs") / "serve.log")
    yield ws, live, keys
    assert live.stop() == 0


def _complete(live, key, **extra):
    out = httpx.post(live.url + "/v1/completions", headers={"Authorization": f"Bearer {key}"}, timeout=60,
                     json={"model": "code-generation", "prompt": "def add(a, b):\n", "max_tokens": 4,
                           "temperature": 0, **extra})
    assert out.status_code == 200, out.text
    return out.json()


def _event(live, key, **body):
    return httpx.post(live.url + "/v1/events", headers={"Authorization": f"Bearer {key}"}, json=body, timeout=30)


def test_split_per_key_and_events_recorded_once(staged):
    ws, live, keys = staged
    served = {}
    for key in keys:
        first = _complete(live, key)
        second = _complete(live, key)
        assert first["model"] == second["model"]  # sticky per key
        served[key] = first
    assert {r["model"] for r in served.values()} <= {INTERNAL, SMOL}
    rows = wait_rows(ws, 12)
    assert all(r["split"] == f"code-generation={INTERNAL}:0.5,{SMOL}:0.5" and r["capability"] == "code-generation"
               for r in rows)
    key, completion = keys[0], served[keys[0]]
    cid = completion["id"]
    assert _event(live, key, type="view", completion_id=cid, choice_index=0, elapsed=120).json() == {"recorded": True}
    for _ in range(3):  # an extension retrying: one row
        _event(live, key, type="select", completion_id=cid, choice_index=0, elapsed=900, accepted_chars=5)
    assert _event(live, key, type="select", completion_id="cmpl-nope", choice_index=0).status_code == 404
    assert _event(live, key, type="like", completion_id=cid).status_code == 400
    assert _event(live, "brs-wrong", type="view", completion_id=cid).status_code == 401
    events = wait_rows(ws, 2, "SELECT * FROM completion_events ORDER BY id")
    assert [(e["completion_id"], e["kind"], e["accepted_chars"], e["key_name"]) for e in events] == [
        (cid, "view", None, "user-0"), (cid, "select", 5, "user-0")]


def test_acceptance_in_usage_and_compare(staged):
    ws, live, keys = staged
    # every key views its completions; user-0..2 accept theirs
    shown = {}
    for i, key in enumerate(keys):
        c = _complete(live, key, seed=i)
        shown[key] = c
        assert _event(live, key, type="view", completion_id=c["id"]).status_code == 200
        if i < 3:
            assert _event(live, key, type="select", completion_id=c["id"], accepted_chars=3).status_code == 200
    total_events = len(db_rows(ws, "SELECT * FROM completion_events"))
    wait_rows(ws, total_events, "SELECT * FROM completion_events")
    usage = cli_json(ws, "usage", "--since", "all")
    acc = usage["acceptance"]
    selected = len(db_rows(ws, "SELECT DISTINCT completion_id FROM completion_events WHERE kind = 'select'"))
    viewed = len(db_rows(ws, "SELECT DISTINCT completion_id FROM completion_events"))
    assert acc["accepted"] == selected and acc["shown"] == viewed
    from eval.stats import wilson

    assert acc["ci95"] == [round(v, 4) for v in wilson(selected, viewed)]
    assert usage["by_capability"]["code-generation"]["acceptance"]["shown"] == viewed
    assert sum(g["acceptance"]["shown"] for g in usage["by_key"].values()) == viewed
    both = cli_json(ws, "usage", "--compare", INTERNAL, SMOL, "--since", "all")
    assert set(both["models"]) == {INTERNAL, SMOL} and both["verdict"]
    sides = [both["models"][INTERNAL]["acceptance"], both["models"][SMOL]["acceptance"]]
    if all(s["shown"] for s in sides):
        lo, hi = both["acceptance_difference"]["ci95"]
        assert lo <= both["acceptance_difference"]["value"] <= hi


def test_capture_keeps_accepted_completions_and_drops_secrets(staged, tmp_path):
    ws = staged[0]
    live = Live(ws.root, INTERNAL, "--no-auth", "--capture", log=tmp_path / "serve.log")
    try:
        planted = 'AWS_KEY = "AKIAQ3EGRKCXWJ7L2HPR"\n\ndef connect():\n'
        clean = "def add(a, b):\n"
        ids = {}
        for name, prompt in (("planted", planted), ("clean", clean), ("dismissed", clean + "    ")):
            out = httpx.post(live.url + "/v1/completions", json={"prompt": prompt, "max_tokens": 4, "temperature": 0},
                             timeout=60).json()
            ids[name] = out["id"]
        for name in ("planted", "clean"):
            httpx.post(live.url + "/v1/events", json={"type": "select", "completion_id": ids[name]}, timeout=30)
        httpx.post(live.url + "/v1/events", json={"type": "dismiss", "completion_id": ids["dismissed"]}, timeout=30)
        wait_rows(ws, 3, "SELECT * FROM completion_events")
    finally:
        assert live.stop() == 0
    captured = db_rows(ws, "SELECT * FROM feedback_captures")
    assert [(c["completion_id"], c["prompt"], c["model_id"]) for c in captured] == [(ids["clean"], clean, INTERNAL)]
    log = (tmp_path / "serve.log").read_text()
    assert "--capture is on" in log and "1 dropped for secrets" in log


def test_vllm_command_for_one_model_and_missing_vllm(staged):
    import importlib.util

    from app.serve.vllm import command

    ws = staged[0]
    argv, ids = command(ws, ["forkies/tiny@v0.1.0"], "127.0.0.1", 8000, no_auth=False)
    assert ids == ["forkies/tiny@v0.1.0"]
    assert argv[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert argv[argv.index("--served-model-name") + 1] == "forkies/tiny@v0.1.0"
    assert argv[argv.index("--middleware") + 1] == "app.serve.vllm.KeyCheck"
    with ws.store() as store:
        assert argv[argv.index("--model") + 1] == store.require_model("forkies/tiny@v0.1.0")["path"]
    if importlib.util.find_spec("vllm") is None:
        out = cli_json_error(ws, "serve", "forkies/tiny@v0.1.0", "--engine", "vllm", "--no-auth")
        assert "needs vLLM" in out and "vllm.entrypoints.openai.api_server" in out


def cli_json_error(ws, *args) -> str:
    from cli_runner import run_cli

    out = run_cli("--workspace", str(ws.root), *args)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    return out.stderr
