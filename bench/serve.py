"""`blackroad-studio serve` against llama-cpp-python's own OpenAI server (`python -m llama_cpp.server`, the
[server] extra of the pinned llama-cpp-python) on the same GGUF with the same threads, side by side in one run:

  1. one client, FIM requests (prompt + suffix) with ~1k-token contexts, 32 new tokens, greedy; the servers are
     asked in turn, alternating which goes first: p50 and p95 of the client-side time, ratio ours/theirs;
  2. editor-like typing: 4 clients, each in its own file, typing bursts of keystrokes 150 ms apart at the cursor
     (the text typed accumulates, as in an editor), every keystroke a new request that abandons the previous one
     (the connection is closed); the last request of a burst is awaited: p95 of the answered requests (from the
     keystroke to the answer), ratio ours/theirs (the servers one after the other);
  3. ours alone: 16 clients for --seconds: every answer 200 or 503, and the server's RSS over time.

    .venv/bin/pip install -e .[bench]
    flock /tmp/bench.lock .venv/bin/python bench/serve.py [--gguf F.gguf] [--threads 2] [--parts 1,2,3]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval.latency import make_contexts, percentile  # noqa: E402


# Both servers run with the OpenMP wait policy ours sets for itself (PASSIVE unless the caller chose one): the
# comparison is of the servers, not of an environment variable.
ENV = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_ours(gguf: Path, threads: int, workdir: Path, queue: int, slots: int = 1) -> tuple[subprocess.Popen, str, str]:
    from app.forks import fork
    from app.workspace import Workspace

    ws = Workspace.open(workdir / "ws")
    model = "forkies/bench@v1.0.0"
    fork(ws, str(gguf), model, prepare=False)
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "--workspace", str(ws.root), "serve", model, "--no-auth",
                             "--port", "0", "--json", "--queue", str(queue), "--slots", str(slots),
                             # one slot: the anchor's threads; several: the server shares the cores between them
                             *(["--threads", str(threads)] if slots == 1 else [])],
                            stdout=subprocess.PIPE, stderr=open(workdir / "ours.log", "w"), text=True, cwd=ROOT,
                            env=ENV)
    ready, _, _ = select.select([proc.stdout], [], [], 120)
    line = proc.stdout.readline() if ready else ""
    if not line:
        raise SystemExit(f"our server did not start: {(workdir / 'ours.log').read_text()}")
    return proc, json.loads(line)["url"], model


def start_theirs(gguf: Path, threads: int, workdir: Path) -> tuple[subprocess.Popen, str, str]:
    import httpx

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                             "--port", str(port), "--n_threads", str(threads), "--n_threads_batch", str(threads),
                             "--n_ctx", "4096", "--seed", "42"],
                            stdout=subprocess.DEVNULL, stderr=open(workdir / "theirs.log", "w"), cwd=workdir, env=ENV)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            models = httpx.get(url + "/v1/models", timeout=1).json()
            return proc, url, models["data"][0]["id"]
        except (httpx.HTTPError, ValueError, KeyError):
            if proc.poll() is not None:
                raise SystemExit(f"llama_cpp.server did not start: {(workdir / 'theirs.log').read_text()}")
            time.sleep(0.3)
    raise SystemExit("llama_cpp.server did not answer in 120 s")


def body(model: str, ctx: dict, max_tokens: int = 32) -> dict:
    return {"model": model, "prompt": ctx["prefix"], "suffix": ctx["suffix"], "max_tokens": max_tokens,
            "temperature": 0, "seed": 42}


def part1(servers: dict, contexts: list[dict]) -> dict:
    import httpx

    times = {name: [] for name in servers}
    tokens = {name: [] for name in servers}
    with httpx.Client(timeout=300) as client:
        for name, (url, model) in servers.items():  # warm-up, not measured
            client.post(url + "/v1/completions", json=body(model, contexts[0], 4))
        for i, ctx in enumerate(contexts):
            order = list(servers) if i % 2 == 0 else list(reversed(servers))
            for name in order:
                url, model = servers[name]
                t0 = time.perf_counter()
                out = client.post(url + "/v1/completions", json=body(model, ctx)).json()
                times[name].append((time.perf_counter() - t0) * 1000)
                tokens[name].append(out["usage"]["completion_tokens"])
            print(f"  context {i + 1}/{len(contexts)}: " + ", ".join(
                f"{n} {times[n][-1]:.0f} ms ({tokens[n][-1]} tok)" for n in servers), file=sys.stderr)
    out = {n: {"p50_ms": percentile(v, 50), "p95_ms": percentile(v, 95), "tokens": sum(tokens[n])}
           for n, v in times.items()}
    out["ratio_p50"] = out["ours"]["p50_ms"] / out["theirs"]["p50_ms"]
    out["ratio_p95"] = out["ours"]["p95_ms"] / out["theirs"]["p95_ms"]
    return out


async def typing_client(url: str, model: str, contexts: list[dict], seed: int, seconds: float, stats: dict) -> None:
    import httpx

    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=0)
    ctx = contexts[seed % len(contexts)]  # each editor types in its own file, as a user does, and goes on typing
    typed = ""
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        while time.monotonic() < deadline:
            pending = None
            for stroke in range(rng.randint(3, 6)):
                typed += rng.choice("abcdefghijklmnopqrstuvwxyz_(. ")
                if pending is not None and not pending.done():
                    pending.cancel()  # the editor abandons the previous request: its connection is closed
                    stats["abandoned"] += 1
                sent = time.perf_counter()
                pending = asyncio.ensure_future(client.post(url + "/v1/completions", json=body(
                    model, {"prefix": ctx["prefix"] + typed, "suffix": ctx["suffix"]})))
                await asyncio.sleep(0.15)
            try:
                resp = await pending
                if resp.status_code == 200:
                    stats["answered"].append((time.perf_counter() - sent) * 1000)
                else:
                    stats["errors"] += 1
            except httpx.HTTPError:
                stats["errors"] += 1
            await asyncio.sleep(rng.uniform(0.2, 0.6))  # the user reads the suggestion


def part2(servers: dict, contexts: list[dict], seconds: float) -> dict:
    out = {}
    for name, (url, model) in servers.items():
        stats = {"answered": [], "abandoned": 0, "errors": 0}

        async def run():
            await asyncio.gather(*(typing_client(url, model, contexts, seed, seconds, stats) for seed in range(4)))

        asyncio.run(run())
        out[name] = {"answered": len(stats["answered"]), "abandoned": stats["abandoned"], "errors": stats["errors"],
                     "p50_ms": percentile(stats["answered"], 50), "p95_ms": percentile(stats["answered"], 95)}
        print(f"  {name}: {out[name]}", file=sys.stderr)
        time.sleep(3)  # let a server that does not cancel finish its backlog before the other one is measured
    out["ratio_p95"] = out["ours"]["p95_ms"] / out["theirs"]["p95_ms"]
    return out


def part3(url: str, model: str, pid: int, contexts: list[dict], seconds: float) -> dict:
    import httpx

    statuses: dict[int, int] = {}
    rss = [rss_mb(pid)]

    async def client(seed: int) -> None:
        rng = random.Random(seed)
        deadline = time.monotonic() + seconds
        async with httpx.AsyncClient(timeout=300) as c:
            while time.monotonic() < deadline:
                try:
                    r = await c.post(url + "/v1/completions", json=body(model, rng.choice(contexts), 16))
                    statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                    if r.status_code == 503:
                        await asyncio.sleep(float(r.headers.get("retry-after", "1")))
                except httpx.HTTPError:
                    statuses[-1] = statuses.get(-1, 0) + 1

    async def sampler() -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await asyncio.sleep(5)
            rss.append(rss_mb(pid))

    async def run():
        await asyncio.gather(sampler(), *(client(s) for s in range(16)))

    asyncio.run(run())
    return {"statuses": statuses, "errors_other_than_503": sum(n for s, n in statuses.items() if s not in (200, 503)),
            "rss_mb_first": rss[0], "rss_mb_max": max(rss), "rss_mb_last": rss[-1], "rss_mb": [round(r) for r in rss]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", type=Path, help="default: the embedded SmolLM2-135M (Q4_1)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--contexts", type=int, default=12)
    ap.add_argument("--parts", default="1,2,3")
    ap.add_argument("--typing-seconds", type=float, default=30)
    ap.add_argument("--seconds", type=float, default=60, help="length of part 3")
    ap.add_argument("--slots", type=int, default=1, help="our slots (each keeps its own KV cache; threads are "
                                                         "--threads per slot)")
    args = ap.parse_args()
    from app.forks import embedded_gguf
    from eval.llama_backend import LlamaBackend

    gguf = (args.gguf or embedded_gguf("smollm2-135m")).resolve()
    parts = {int(p) for p in args.parts.split(",")}
    texts = [p.read_text() for p in sorted((ROOT / "assets" / "sample-repos").rglob("*.py"))]
    counter = LlamaBackend(gguf, n_ctx=4096, n_threads=1)
    contexts = make_contexts(texts, counter.count_tokens, args.contexts, tokens=(900, 1100))
    counter.close()
    load = os.getloadavg()
    result = {"gguf": gguf.name, "threads": args.threads, "slots": args.slots, "contexts": len(contexts),
              "loadavg_before": load}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ours = start_ours(gguf, args.threads, work, queue=16, slots=args.slots)
        theirs = start_theirs(gguf, args.threads, work) if parts & {1, 2} else None
        procs = [p for p in (ours, theirs) if p]
        try:
            servers = {"ours": ours[1:], "theirs": theirs[1:]} if theirs else {}
            if 1 in parts:
                print("part 1: one client, ~1k-token FIM requests", file=sys.stderr)
                result["part1"] = part1(servers, contexts)
            if 2 in parts:
                print("part 2: 4 typing clients", file=sys.stderr)
                result["part2"] = part2(servers, contexts, args.typing_seconds)
            if 3 in parts:
                print("part 3: 16 clients on ours", file=sys.stderr)
                result["part3"] = part3(ours[1], ours[2], ours[0].pid, contexts, args.seconds)
        finally:
            for proc, *_ in procs:
                proc.send_signal(signal.SIGTERM)
            for proc, *_ in procs:
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    result["loadavg_after"] = os.getloadavg()
    print(json.dumps(result, indent=1, default=lambda v: round(v, 3) if isinstance(v, float) else str(v)))
    for part, keys in (("part1", ("ratio_p50", "ratio_p95")), ("part2", ("ratio_p95",))):
        if part in result:
            print(f"{part}: " + ", ".join(f"{k} = {result[part][k]:.3f}" for k in keys))


if __name__ == "__main__":
    main()
