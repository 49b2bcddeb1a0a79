"""The shared state of one server: the served models and the names they answer to, the key check (one indexed
look-up in the store per request, so a revocation holds from the next request on), capability routes read live, A/B
splits, the completions issued (for the events that refer to them), and the usage recorder."""
from __future__ import annotations

import sqlite3
import sys
from collections import OrderedDict

from app.keys import hash_key
from app.serve.catalog import ServedModel
from app.serve.engine import Pool
from app.serve.protocol import ApiError, header
from app.serve.recorder import Recorder
from app.serve.splits import choose_arm, split_label
from app.store import iso

ISSUED_KEPT = 200_000  # completion ids remembered in memory for events (older ones are looked up in the store)
CAPTURES_KEPT = 10_000  # with --capture: contexts kept until their completion is accepted or forgotten


class ServeState:
    def __init__(self, ws, models: list[ServedModel], pool: Pool, *, auth: bool, log=None,
                 splits: dict[str, list[tuple[str, float]]] | None = None, capture: bool = False):
        self.ws = ws
        self.models = {m.id: m for m in models}
        self.default_model = models[0].id
        self.names: dict[str, str] = {}
        for m in models:
            self.names[m.id] = m.id
            for alias in m.aliases:
                self.names[alias] = m.id
        self.pool = pool
        self.auth = auth
        self.recorder = Recorder(ws)
        self.log = log or (lambda message: print(f"serve: {message}", file=sys.stderr, flush=True))
        self._db = sqlite3.connect(str(ws.db_path), check_same_thread=False, timeout=5)
        self._db.execute("PRAGMA query_only = ON")
        self.inflight = 0
        self.splits = splits or {}
        self.capture = capture
        self.issued: OrderedDict[str, tuple] = OrderedDict()  # completion id -> (model, key, capability)
        self.contexts: OrderedDict[str, dict] = OrderedDict()  # --capture: completion id -> prompt, suffix, text
        self.events_seen: OrderedDict[tuple, None] = OrderedDict()
        self.capture_stats = {"kept": 0, "dropped_secret": 0}

    def now(self) -> str:
        return iso(self.ws.clock())

    def authenticate(self, scope) -> str | None:
        """The name of the request's key (None without auth); ApiError 401 when missing, wrong or revoked."""
        if not self.auth:
            return None
        scheme, _, key = (header(scope, b"authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise ApiError(401, "an API key is required: send 'Authorization: Bearer KEY' (blackroad-studio keys "
                                "create NAME)", code="invalid_api_key")
        row = self._db.execute("SELECT name FROM api_keys WHERE hash = ? AND revoked IS NULL",
                               (hash_key(key.strip()),)).fetchone()
        if row is None:
            raise ApiError(401, "the API key is wrong or revoked", code="invalid_api_key")
        return row[0]

    def resolve(self, requested: str | None, rec: dict) -> ServedModel:
        """The served model a request names (id, alias, capability; none: the first served model)."""
        if requested is not None and not isinstance(requested, str):
            raise ApiError(400, "'model' must be a string", param="model")
        rec["requested"] = requested
        if requested in self.splits:
            return self._split(requested, rec)
        model_id = self.names.get(requested) if requested else self.default_model
        if model_id is None and requested:
            row = self._db.execute("SELECT target FROM routes WHERE capability = ?", (requested,)).fetchone()
            if row is not None:
                rec["capability"] = requested
                model_id = self.names.get(row[0])
                if model_id is None:
                    raise ApiError(404, f"the capability '{requested}' routes to '{row[0]}', which this server does "
                                        "not serve", code="model_not_found", param="model")
        if model_id is None:
            raise ApiError(404, f"the model '{requested}' does not exist or is not served here (GET /v1/models)",
                           code="model_not_found", param="model")
        model = self.models[model_id]
        rec["model_id"], rec["artifact_sha256"] = model.id, model.sha256
        return model

    def _split(self, capability: str, rec: dict) -> ServedModel:
        """A/B: the capability's arm for this key, the same arm for a key every time (a hash of key and capability
        against the cumulative weights), recorded on the request."""
        arms = self.splits[capability]
        model = self.models[choose_arm(capability, rec.get("key_name") or "(no key)", arms)]
        rec.update(capability=capability, split=split_label(capability, arms), model_id=model.id,
                   artifact_sha256=model.sha256)
        return model

    def issue(self, rec: dict) -> None:
        """Remember a completion that was answered, so that events about it are accepted."""
        cid = rec.get("completion_id")
        if not cid or rec.get("status") != "ok":
            return
        self.issued[cid] = (rec.get("model_id"), rec.get("key_name"), rec.get("capability"))
        if len(self.issued) > ISSUED_KEPT:
            self.issued.popitem(last=False)
        if self.capture and "_context" in rec:
            self.contexts[cid] = rec["_context"]
            if len(self.contexts) > CAPTURES_KEPT:
                self.contexts.popitem(last=False)

    def known(self, cid: str) -> bool:
        if cid in self.issued:
            return True
        return self._db.execute("SELECT 1 FROM serve_requests WHERE completion_id = ? AND status = 'ok'",
                                (cid,)).fetchone() is not None

    def close(self) -> None:
        self.pool.close()
        self.recorder.close()
        self._db.close()

