import sqlite3

import pytest

from app.errors import StudioError
from app.schema import SCHEMA_VERSION
from app.store import Store


def _fork_row(model_id="forkies/base@v1.0.0"):
    return {"id": model_id, "relation": "fork", "license": "apache-2.0", "architecture": "qwen2", "parameters": 10}


def test_round_trip_model_artifact_event(tmp_path):
    store = Store(tmp_path / "s.db")
    store.add_model(_fork_row())
    store.add_model({"id": "research/team/coder", "parent_id": "forkies/base@v1.0.0", "relation": "lora-finetune",
                     "details": {"lora": {"r": 16}}})
    m = store.model("research/team/coder")
    assert m["stage"] == "research" and m["owner"] == "team" and m["name"] == "coder"
    assert m["details"] == {"lora": {"r": 16}}
    assert m["expires"] > m["created"]
    aid = store.add_artifact("gguf", "/x.gguf", "ab" * 32, 123, model_id=m["id"], quant_type="q8_0")
    assert store.artifacts(m["id"])[0]["id"] == aid
    assert [e["kind"] for e in store.events(m["id"])] == ["model.created", "artifact.recorded"]
    assert [c["id"] for c in store.chain(m["id"])] == ["research/team/coder", "forkies/base@v1.0.0"]
    store.close()
    reopened = Store(tmp_path / "s.db")
    assert reopened.model("research/team/coder")["details"]["lora"]["r"] == 16
    assert reopened.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert reopened.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_research_without_expiry_refused_by_schema(tmp_path):
    store = Store(tmp_path / "s.db")
    store.add_model(_fork_row())
    with pytest.raises(sqlite3.IntegrityError):
        store.conn.execute("INSERT INTO models (id, stage, name, parent_id, created) VALUES "
                           "('research/a/b', 'research', 'b', 'forkies/base@v1.0.0', '2026-01-01')")


def test_stage_prefix_and_parent_enforced(tmp_path):
    store = Store(tmp_path / "s.db")
    with pytest.raises(sqlite3.IntegrityError):  # id without its stage prefix
        store.conn.execute("INSERT INTO models (id, stage, name, created) VALUES ('x/y', 'forkies', 'y', 'now')")
    with pytest.raises(StudioError, match="must be of the form research/OWNER/NAME"):  # malformed id
        store.add_model({"id": "research/onlyname"})
    with pytest.raises(StudioError, match="refused by the lineage store"):  # a research model needs a parent
        store.add_model({"id": "research/team/orphan"})
    with pytest.raises(StudioError, match="FOREIGN KEY"):  # parent must exist (foreign key)
        store.add_model({"id": "research/team/x", "parent_id": "forkies/missing@v1.0.0"})
    store.add_model(_fork_row())
    with pytest.raises(StudioError, match="already exists"):
        store.add_model(_fork_row())


def test_events_are_append_only(tmp_path):
    store = Store(tmp_path / "s.db")
    store.event("hello", note="x")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.conn.execute("UPDATE events SET kind = 'changed'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.conn.execute("DELETE FROM events")
    assert store.events()[0]["kind"] == "hello"


def test_migration_from_older_schema_keeps_data(tmp_path):
    old = Store(tmp_path / "s.db", migrate_to=1)
    assert old.version == 1
    old.add_model(_fork_row())
    with pytest.raises(sqlite3.OperationalError):
        old.conn.execute("SELECT * FROM approvals")
    old.close()
    new = Store(tmp_path / "s.db")
    assert new.version == SCHEMA_VERSION
    assert new.model("forkies/base@v1.0.0")["architecture"] == "qwen2"
    new.conn.execute("SELECT * FROM approvals").fetchall()


def test_newer_schema_refused(tmp_path):
    store = Store(tmp_path / "s.db")
    store.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    store.close()
    with pytest.raises(StudioError, match="newer blackroad-studio"):
        Store(tmp_path / "s.db")
