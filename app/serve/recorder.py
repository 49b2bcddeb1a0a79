"""Usage rows written off the request path: the server puts a dict on a queue (no I/O, no lock held), a writer
thread with its own store connection inserts them in batches, one transaction per batch. close() writes what is
left before it returns, so a server stopping with SIGTERM loses nothing it recorded."""
from __future__ import annotations

import queue
import sqlite3
import sys
import threading

REQUEST_COLUMNS = ("time", "completion_id", "endpoint", "key_name", "requested", "model_id", "artifact_sha256",
                   "capability", "split", "status", "http_status", "error", "prompt_tokens", "completion_tokens",
                   "queue_ms", "first_token_ms", "total_ms", "completion_chars")
EVENT_COLUMNS = ("completion_id", "choice_index", "kind", "elapsed_ms", "accepted_chars", "key_name", "time")
CAPTURE_COLUMNS = ("completion_id", "model_id", "prompt", "suffix", "accepted", "language", "time")
# table -> (columns, verb): an event sent twice is recorded once (UNIQUE completion, choice, kind)
TABLES = {"serve_requests": (REQUEST_COLUMNS, "INSERT"), "completion_events": (EVENT_COLUMNS, "INSERT OR IGNORE"),
          "feedback_captures": (CAPTURE_COLUMNS, "INSERT OR IGNORE")}
BATCH = 512


class Recorder:
    def __init__(self, ws):
        self.ws = ws
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self.written = 0
        self.failed = 0
        self._thread = threading.Thread(target=self._loop, name="usage-writer", daemon=True)
        self._thread.start()

    def request(self, row: dict) -> None:
        """Record one request (columns of serve_requests; missing ones are NULL)."""
        self._queue.put(("serve_requests", row))

    def put(self, table: str, row: dict) -> None:
        self._queue.put((table, row))

    def _loop(self) -> None:
        store = self.ws.store()
        try:
            while True:
                item = self._queue.get()
                batch = [item]
                while len(batch) < BATCH:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                stop = any(i is None for i in batch)
                self._write(store, [i for i in batch if i is not None])
                if stop:
                    return
        finally:
            store.close()

    def _write(self, store, batch: list[tuple[str, dict]]) -> None:
        if not batch:
            return
        try:
            with store.conn:
                for table, row in batch:
                    self._insert(store, table, row)
            self.written += len(batch)
            return
        except sqlite3.IntegrityError:
            pass  # one bad row: write the others one by one
        except sqlite3.Error as exc:
            self.failed += len(batch)
            print(f"serve: could not record {len(batch)} usage row(s): {exc}", file=sys.stderr, flush=True)
            return
        for table, row in batch:
            try:
                with store.conn:
                    self._insert(store, table, row)
                self.written += 1
            except sqlite3.Error as exc:
                self.failed += 1
                print(f"serve: could not record a {table} row: {exc}", file=sys.stderr, flush=True)

    @staticmethod
    def _insert(store, table: str, row: dict) -> None:
        cols, verb = TABLES[table]
        store.conn.execute(f"{verb} INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                           [row.get(c) for c in cols])

    def close(self, timeout: float = 30.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)
