"""A staging rehearsal on a live server: two internal models (the demo SmolLM2 GGUF recorded twice, as
internal/coder/v1 and internal/coder/v2) served under a sticky 30/70 split, editor clients (one API key each) that
accept v1's completions at 25% and v2's at 40%, and the workspace clock advanced over 15 days as the traffic flows.
Shows the production checklist's staging items of v2 going from failing (day 0) to passing, `usage --compare`
finding v2 the better model, then drives the telemetry path (/v1/events) flat out for 30 s and counts that every
event the server acknowledged is in the store.

    python bench/staging.py [--requests 1050] [--clients 2] [--events-seconds 30] [--workspace DIR]

The server runs in a forked process sharing the clock offset (a multiprocessing.Value) with this one, so the rows
it records and the checklist evaluated here read the same advanced clock."""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing as mp
import random
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repo first, as the studio itself runs

SMOL = "forkies/smollm2-135m-instruct@v1.0.0"
V1, V2 = "internal/coder/v1", "internal/coder/v2"
RATES = {V1: 0.25, V2: 0.40}
STAGING = ("staging-days", "staging-requests", "staging-p95", "staging-acceptance")
DAYS = 15


def make_workspace(root: Path, offset):
    from app.forks import fork
    from app.keys import create_key
    from app.store import system_clock
    from app.workspace import Workspace

    ws = Workspace.open(root, clock=lambda: system_clock() + dt.timedelta(seconds=offset.value))
    fork(ws, "embedded:smollm2-135m", SMOL, prepare=False)
    with ws.store() as store:
        art = store.artifacts(SMOL, "gguf")[0]
        for model_id in (V1, V2):
            store.add_model({"id": model_id, "parent_id": SMOL, "relation": "promotion", "license": "apache-2.0",
                             "gguf_path": art["path"], "source": SMOL})
            store.add_artifact("gguf", art["path"], art["sha256"], art["size_bytes"], model_id=model_id,
                               quant_type=art["quant_type"], referenced_from=art["id"])
    keys = [create_key(ws, f"editor-{i}")["key"] for i in range(64)]
    return ws, keys


def _serve(ws, ready):
    from app.serve.server import serve

    serve(ws, [V1, V2], port=0, splits=[f"code-generation={V1}:0.3,{V2}:0.7"], on_ready=ready.put,
          log=lambda m: None)


def staging_items(ws, model_id) -> dict:
    from app import checklists

    with ws.store() as store:
        result = checklists.evaluate(ws, store, model_id, "production")
    return {i["name"]: i for i in result["items"] if i["name"] in STAGING}


def show(title, items):
    print(title)
    for name, item in items.items():
        print(f"  [{'x' if item['passed'] else ' '}] {name}: {item['evidence']}")


def drive_editors(url, keys, n, clients, offset, start_offset):
    """Completions from `clients` editor threads until v2 has answered n; each shown, accepted at its model's rate;
    the clock advanced so that v2's n requests cover DAYS days. Returns the completion ids and the errors."""
    import httpx

    done, lock, cids, errors = [0], threading.Lock(), [], []

    def editor(c):
        rng = random.Random(c)
        with httpx.Client(timeout=60) as http:
            while True:
                with lock:
                    if done[0] >= n:
                        return
                key = keys[rng.randrange(len(keys))]
                auth = {"Authorization": f"Bearer {key}"}
                out = http.post(url + "/v1/completions", headers=auth, json={
                    "model": "code-generation", "prompt": "def add(a, b):\n", "max_tokens": 2, "temperature": 0})
                if out.status_code != 200:
                    errors.append(out.text)
                    continue
                body = out.json()
                cid, model = body["id"], body["model"]
                http.post(url + "/v1/events", headers=auth, json={"type": "view", "completion_id": cid,
                                                                  "choice_index": 0, "elapsed": 40})
                if rng.random() < RATES[model]:
                    http.post(url + "/v1/events", headers=auth, json={
                        "type": "select", "completion_id": cid, "choice_index": 0, "elapsed": 900,
                        "accepted_chars": len(body["choices"][0]["text"])})
                with lock:
                    cids.append((cid, key))
                    if model == V2:
                        done[0] += 1
                        offset.value = start_offset + DAYS * 86400 * min(done[0], n) / n

    threads = [threading.Thread(target=editor, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return cids, errors


async def _flood(host, port, cids, seconds, connections):
    """view events on fresh choice indexes (each distinct, so each is recorded) as fast as the server answers."""
    counts = {"sent": 0, "recorded": 0, "other": 0}
    stop = time.monotonic() + seconds
    nxt = [0]

    async def conn():
        reader, writer = await asyncio.open_connection(host, port)
        while time.monotonic() < stop:
            j = nxt[0]
            nxt[0] += 1
            cid, key = cids[j % len(cids)]
            body = json.dumps({"type": "view", "completion_id": cid, "choice_index": 1 + j // len(cids),
                               "elapsed": 5}).encode()
            writer.write(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Authorization: Bearer " + key.encode() + b"\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
            counts["sent"] += 1
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(next(l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")))
            payload = await reader.readexactly(length)
            if head.startswith(b"HTTP/1.1 200") and b'"recorded":true' in payload.replace(b" ", b""):
                counts["recorded"] += 1
            else:
                counts["other"] += 1
        writer.close()

    t0 = time.monotonic()
    await asyncio.gather(*(conn() for _ in range(connections)))
    return counts, time.monotonic() - t0


def count_events(ws) -> int:
    conn = sqlite3.connect(str(ws.db_path))
    try:
        return conn.execute("SELECT COUNT(*) FROM completion_events").fetchone()[0]
    finally:
        conn.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1050, help="drive until v2 has answered this many")
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--events-seconds", type=float, default=30)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--workspace", type=Path)
    args = ap.parse_args()
    from app import usage

    ctx = mp.get_context("fork")
    offset = ctx.Value("d", 0.0, lock=False)
    root = args.workspace or Path(tempfile.mkdtemp(prefix="staging-")) / "ws"
    ws, keys = make_workspace(root, offset)
    print(f"load average at start: {Path('/proc/loadavg').read_text().split()[:3]}")
    ready = ctx.Queue()
    server = ctx.Process(target=_serve, args=(ws, ready))
    server.start()
    try:
        info = ready.get(timeout=300)
        url = info["url"]
        show("day 0, before any traffic:", staging_items(ws, V2))
        t0 = time.monotonic()
        cids, errors = drive_editors(url, keys, args.requests, args.clients, offset, 0.0)
        took = time.monotonic() - t0
        print(f"\n{len(cids)} completions (+{len(errors)} errors) from {args.clients} editors in {took:.1f} s "
              f"({len(cids) / took:.1f}/s), the clock advanced {DAYS} days")
        time.sleep(2)  # the recorder writes off the request path
        show(f"day {DAYS}, after the staging traffic:", staging_items(ws, V2))
        cmp = usage.compare(ws, V2, V1, since="all")
        print("\nusage --compare:\n" + usage.render_compare(cmp))
        host, port = url.split("//")[1].rstrip("/").split(":")
        before = count_events(ws)
        counts, secs = asyncio.run(_flood(host, int(port), cids, args.events_seconds, args.connections))
    finally:
        import os
        import signal

        os.kill(server.pid, signal.SIGTERM)
        server.join(120)
    stored = count_events(ws) - before
    rate = counts["recorded"] / secs
    print(f"\ntelemetry: {counts['sent']} events sent in {secs:.1f} s over {args.connections} connections, "
          f"{counts['recorded']} acknowledged as recorded ({rate:.0f}/s), {counts['other']} other answers; "
          f"{stored} new rows in completion_events after the server stopped: "
          f"{counts['recorded'] - stored} lost")
    print(f"load average at end: {Path('/proc/loadavg').read_text().split()[:3]}")
    ok = (all(i["passed"] for i in staging_items(ws, V2).values()) and cmp["verdict"].startswith(V2)
          and stored == counts["recorded"] and rate >= 1000)
    print("rehearsal:", "as expected" if ok else "NOT as expected")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
