"""The lineage store: one SQLite file (WAL, foreign keys) behind sqlite-utils, with forward migrations.

Every write that changes what a model is appends an event; events can be neither updated nor deleted.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import secrets
import socket
import sqlite3
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import sqlite_utils

from app.errors import StudioError
from app.schema import MIGRATIONS, SCHEMA_VERSION

JSON_COLUMNS = {"details", "config", "stats", "sources", "result", "settings", "payload"}


Clock = Callable[[], _dt.datetime]
LIVE_STATUSES = ("queued", "running")


def system_clock() -> _dt.datetime:
    """The real time, UTC, to the second: the default clock of a store."""
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)


def iso(moment: _dt.datetime) -> str:
    """The one time format of the store: ISO 8601, UTC, seconds."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.timezone.utc)
    return moment.astimezone(_dt.timezone.utc).replace(microsecond=0).isoformat()


def _decode(row: dict | None) -> dict | None:
    if row is None:
        return None
    out = dict(row)
    for key in JSON_COLUMNS & out.keys():
        if isinstance(out[key], str):
            try:
                out[key] = json.loads(out[key])
            except ValueError:
                pass
    return out


def _encode(values: dict) -> dict:
    return {k: (json.dumps(v, sort_keys=True) if k in JSON_COLUMNS and not isinstance(v, str) else v)
            for k, v in values.items()}


class Store:
    """Typed access to the lineage tables. Open one per thread or process; `with Store(...) as store:` closes it.

    `clock` is the one source of time of everything recorded through this store (and of the checklists and cards
    that read it): tests and rehearsals pass a fixed or advancing clock instead of patching a module."""

    def __init__(self, path: Path | str, migrate_to: int | None = None, clock: Clock | None = None):
        self.path = Path(path)
        self.clock: Clock = clock or system_clock
        try:
            conn = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:
            raise StudioError(f"cannot open the lineage store {self.path}: {exc}") from None
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self._migrate(SCHEMA_VERSION if migrate_to is None else migrate_to)
        if self.version >= 1:
            self._interrupt_gone_runs()

    # -- schema -------------------------------------------------------------------------------------------------
    @property
    def version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self, target: int) -> None:
        current = self.version
        if current > SCHEMA_VERSION:
            raise StudioError(
                f"{self.path} was written by a newer blackroad-studio (schema {current}, this one knows {SCHEMA_VERSION}); "
                "upgrade blackroad-studio to open it")
        for number in range(current + 1, target + 1):
            try:
                self.conn.executescript("BEGIN;\n" + MIGRATIONS[number - 1] + f"\nPRAGMA user_version = {number};\nCOMMIT;")
            except sqlite3.Error as exc:
                self.conn.rollback()
                raise StudioError(f"cannot migrate {self.path} to schema {number}: {exc}") from None

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def now(self) -> str:
        """The store clock's time in the store's format."""
        return iso(self.clock())

    # -- generic ------------------------------------------------------------------------------------------------
    def query(self, sql: str, params: Iterable[Any] | dict = ()) -> list[dict]:
        return [_decode(r) for r in self.db.query(sql, params)]

    def one(self, sql: str, params: Iterable[Any] | dict = ()) -> dict | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def insert(self, table: str, values: dict) -> int:
        """Insert one row (JSON columns encoded); returns the rowid. Constraint failures become StudioError."""
        try:
            with self.conn:
                cur = self.conn.execute(
                    f"INSERT INTO {table} ({', '.join(values)}) VALUES ({', '.join('?' for _ in values)})",
                    list(_encode(values).values()))
            return cur.lastrowid
        except sqlite3.IntegrityError as exc:
            raise StudioError(f"refused by the lineage store ({table}): {exc}") from None

    def update(self, table: str, key: str, key_value: Any, values: dict) -> None:
        try:
            with self.conn:
                self.conn.execute(f"UPDATE {table} SET {', '.join(f'{k} = ?' for k in values)} WHERE {key} = ?",
                                  [*_encode(values).values(), key_value])
        except sqlite3.IntegrityError as exc:
            raise StudioError(f"refused by the lineage store ({table}): {exc}") from None

    # -- events -------------------------------------------------------------------------------------------------
    def event(self, kind: str, /, model_id: str | None = None, run_id: str | None = None, **payload: Any) -> int:
        return self.insert("events", {"time": self.now(), "kind": kind, "model_id": model_id, "run_id": run_id,
                                      "payload": payload})

    def events(self, model_id: str | None = None) -> list[dict]:
        if model_id is None:
            return self.query("SELECT * FROM events ORDER BY id")
        return self.query("SELECT * FROM events WHERE model_id = ? ORDER BY id", [model_id])

    # -- models -------------------------------------------------------------------------------------------------
    def add_model(self, row: dict, event: str = "model.created") -> dict:
        """Insert a model (its stage rules are checked by the schema) and log the event."""
        from app import ids

        parsed = ids.parse(row["id"])
        full = {"stage": parsed["stage"], "name": parsed["name"], "version": parsed["version"],
                "owner": parsed["owner"], "created": self.now(), **row}
        if full["stage"] == "research" and not full.get("expires"):
            created = _dt.datetime.fromisoformat(full["created"])
            full["expires"] = (created + _dt.timedelta(days=ids.RESEARCH_TTL_DAYS)).isoformat()
        if self.model(full["id"]) is not None:
            raise StudioError(f"model {full['id']} already exists; ids are immutable, pick a new one")
        self.insert("models", full)
        self.event(event, model_id=full["id"], parent_id=full.get("parent_id"), relation=full.get("relation"))
        return self.model(full["id"])

    def model(self, model_id: str) -> dict | None:
        return self.one("SELECT * FROM models WHERE id = ?", [model_id])

    def require_model(self, model_id: str) -> dict:
        row = self.model(model_id)
        if row is None:
            raise StudioError(f"no model {model_id!r} in this workspace (see `blackroad-studio lineage`)")
        return row

    def models(self) -> list[dict]:
        return self.query("SELECT * FROM models ORDER BY created, id")

    def set_model_details(self, model_id: str, **details: Any) -> None:
        """Merge keys into a model's details (paths of prepared weights and such; not its identity)."""
        row = self.require_model(model_id)
        merged = {**row["details"], **details}
        self.update("models", "id", model_id, {"details": merged})

    def chain(self, model_id: str) -> list[dict]:
        """The model and its ancestors, the model first."""
        out, seen = [], set()
        current = self.model(model_id)
        while current is not None and current["id"] not in seen:
            out.append(current)
            seen.add(current["id"])
            current = self.model(current["parent_id"]) if current["parent_id"] else None
        return out

    # -- artifacts ----------------------------------------------------------------------------------------------
    def add_artifact(self, kind: str, path: Path | str, sha256: str, size_bytes: int, model_id: str | None = None,
                     run_id: str | None = None, quant_type: str | None = None, **details: Any) -> int:
        rowid = self.insert("artifacts", {"model_id": model_id, "run_id": run_id, "kind": kind,
                                          "quant_type": quant_type, "path": str(path), "sha256": sha256,
                                          "size_bytes": int(size_bytes), "details": details, "created": self.now()})
        self.event("artifact.recorded", model_id=model_id, run_id=run_id, artifact_id=rowid, kind=kind,
                   quant_type=quant_type, path=str(path), sha256=sha256)
        return rowid

    def artifacts(self, model_id: str | None = None, kind: str | None = None) -> list[dict]:
        sql, params = "SELECT * FROM artifacts WHERE 1=1", []
        if model_id is not None:
            sql += " AND model_id = ?"
            params.append(model_id)
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        return self.query(sql + " ORDER BY id", params)

    # -- runs ---------------------------------------------------------------------------------------------------
    def new_run_id(self, kind: str) -> str:
        """Every run id has one format: KIND-YYYYmmddTHHMMSS-hex6, the time from the store's clock."""
        return f"{kind}-{self.clock().astimezone(_dt.timezone.utc):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"

    @contextlib.contextmanager
    def run(self, kind: str, *, model_id: str | None = None, config: dict | None = None, resume: str | None = None,
            run_id: str | None = None, **values: Any) -> Iterator["RunRecord"]:
        """The one run lifecycle: mint the id (or re-enter `resume`), mark it running with this process and host,
        and record how it ended: finished with `run.result`, or the status the body chose with `run.end(...)`;
        the engines' `Cancelled` -> cancelled, KeyboardInterrupt (and any other exit of the process) ->
        interrupted, any other exception -> failed with its message. Exceptions are re-raised.
        `run_id` is an id minted beforehand with `new_run_id` (when a folder or a model must name the run first)."""
        from training.cancel import Cancelled

        live = {"status": "running", "started": self.now(), "finished": None, "error": None,
                "host": socket.gethostname(), "pid": os.getpid()}
        if resume is not None:
            if self.run_row(resume) is None:
                raise StudioError(f"no run {resume!r} to resume")
            run_id = resume
            self.set_run_status(run_id, "running", **{k: v for k, v in live.items() if k != "status"}, **values)
        else:
            run_id = run_id or self.new_run_id(kind)
            self.add_run(run_id, kind, model_id=model_id, config=config or {}, **live, **values)
            self.event("run.running", model_id=model_id, run_id=run_id)
        record = RunRecord(self, run_id)
        try:
            yield record
        except Cancelled as exc:
            record.end("cancelled", error=str(exc) or "cancelled")
            raise
        except KeyboardInterrupt:
            record.end("interrupted", error="interrupted (Ctrl-C)")
            raise
        except Exception as exc:
            record.end("failed", error=_error_text(exc))
            raise
        except BaseException as exc:
            record.end("interrupted", error=f"{type(exc).__name__}: {exc}"[:500] if str(exc) else type(exc).__name__)
            raise
        else:
            record.end("finished")
        finally:
            record.close()

    def add_run(self, run_id: str, kind: str, **values: Any) -> dict:
        self.insert("runs", {"id": run_id, "kind": kind, "status": values.pop("status", "queued"),
                             "created": self.now(), **values})
        self.event("run.created", model_id=values.get("model_id"), run_id=run_id, kind=kind)
        return self.run_row(run_id)

    def run_row(self, run_id: str) -> dict | None:
        return self.one("SELECT * FROM runs WHERE id = ?", [run_id])

    def set_run_status(self, run_id: str, status: str, **values: Any) -> None:
        self.update("runs", "id", run_id, {"status": status, **values})
        row = self.run_row(run_id)
        self.event(f"run.{status}", model_id=row["model_id"] if row else None, run_id=run_id,
                   **({"error": values["error"]} if values.get("error") else {}))

    def _interrupt_gone_runs(self) -> None:
        """Runs of any kind still marked queued/running on this host whose process is gone (killed, crashed,
        machine restarted) become `interrupted`; whatever they finished stays recorded."""
        from app.jobs import pid_alive

        host = socket.gethostname()
        rows = self.query(f"SELECT id, pid, host FROM runs WHERE status IN ({', '.join('?' * len(LIVE_STATUSES))}) "
                          "AND pid IS NOT NULL", LIVE_STATUSES)
        for row in rows:
            if row["host"] == host and not pid_alive(row["pid"]):
                self.set_run_status(row["id"], "interrupted", finished=self.now(),
                                    error=f"its process (pid {row['pid']}) is gone")

    def add_metric(self, run_id: str, step: int, **values: Any) -> None:
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO run_metrics (run_id, step, loss, lr, grad_norm, tokens_per_second, "
                "memory_bytes, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [run_id, step, values.get("loss"), values.get("lr"), values.get("grad_norm"),
                 values.get("tokens_per_second"), values.get("memory_bytes"), self.now()])

    def metrics(self, run_id: str) -> list[dict]:
        return self.query("SELECT * FROM run_metrics WHERE run_id = ? ORDER BY step", [run_id])

    # -- snapshots ----------------------------------------------------------------------------------------------
    def add_snapshot(self, snapshot_id: str, content_hash: str, path: Path | str, config: dict, stats: dict,
                     sources: list) -> dict:
        if self.snapshot(snapshot_id) is None:
            self.insert("snapshots", {"id": snapshot_id, "content_hash": content_hash, "path": str(path),
                                      "config": config, "stats": stats, "sources": sources, "created": self.now()})
            self.event("snapshot.created", snapshot_id=snapshot_id, content_hash=content_hash)
        return self.snapshot(snapshot_id)

    def snapshot(self, snapshot_id: str) -> dict | None:
        return self.one("SELECT * FROM snapshots WHERE id = ? OR content_hash = ?", [snapshot_id, snapshot_id])

    def require_snapshot(self, snapshot_id: str) -> dict:
        row = self.snapshot(snapshot_id)
        if row is None:
            raise StudioError(f"no dataset snapshot {snapshot_id!r} in this workspace (run `blackroad-studio curate`)")
        return row

    # -- evals --------------------------------------------------------------------------------------------------
    def add_eval_result(self, model_id: str, suite: str, metric: str, value: float | None, settings_hash: str,
                        settings: dict | None = None, category: str | None = None, artifact_id: int | None = None,
                        baseline_model_id: str | None = None, run_id: str | None = None, **details: Any) -> int:
        return self.insert("eval_results", {
            "model_id": model_id, "suite": suite, "metric": metric, "value": value, "category": category,
            "settings_hash": settings_hash, "settings": settings or {}, "artifact_id": artifact_id,
            "baseline_model_id": baseline_model_id, "run_id": run_id, "details": details, "created": self.now()})

    def eval_results(self, model_id: str, suite: str | None = None) -> list[dict]:
        if suite is None:
            return self.query("SELECT * FROM eval_results WHERE model_id = ? ORDER BY id", [model_id])
        return self.query("SELECT * FROM eval_results WHERE model_id = ? AND suite = ? ORDER BY id", [model_id, suite])


def _error_text(exc: BaseException) -> str:
    """A failed run's error: a user error's own line, else the exception's type and message."""
    if isinstance(exc, StudioError):
        return str(exc)[:500]
    return f"{type(exc).__name__}: {exc}"[:500]


class RunRecord:
    """The run being recorded inside `Store.run`: its id, what it returns, and how it ended."""

    def __init__(self, store: Store, run_id: str):
        self.store, self.id = store, run_id
        self.result: dict | None = None
        self._ended = False

    def update(self, **values: Any) -> None:
        """Record more about the running run (the child's pid, the model it made)."""
        self.store.update("runs", "id", self.id, values)

    def end(self, status: str, result: dict | None = None, error: str | None = None) -> None:
        """Record how the run ended (once; the first ending wins)."""
        if self._ended:
            return
        self._ended = True
        result = result if result is not None else self.result
        values: dict = {"finished": self.store.now()}
        if result is not None:
            values["result"] = result
        if error is not None:
            values["error"] = error[:500]
        self.store.set_run_status(self.id, status, **values)

    def close(self) -> None:
        if not self._ended:
            self.end("interrupted", error="the run ended without a result")
