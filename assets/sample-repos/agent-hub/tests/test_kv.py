import asyncio

import pytest

from conductor.storage.kv import ConflictError, JsonFileBackend, KeyValueStore


def run(coro):
    return asyncio.run(coro)


def test_versions_and_compare_and_set():
    store = KeyValueStore()
    first = run(store.put("planner/goal", "draft"))
    second = run(store.put("planner/goal", "final", expected_version=first.version))
    assert (first.version, second.version) == (1, 2) and store.get("planner/goal") == "final"
    with pytest.raises(ConflictError):
        run(store.put("planner/goal", "stale", expected_version=1))


def test_update_retries_and_namespaces(tmp_path):
    store = KeyValueStore(JsonFileBackend(tmp_path / "state.json"))
    counters = store.namespace("counters")
    for _ in range(3):
        run(store.update("counters/runs", lambda v: (v or 0) + 1))
    assert counters.get("runs") == 3 and counters.keys() == ["runs"]
    reopened = KeyValueStore(JsonFileBackend(tmp_path / "state.json"))
    assert reopened.item("counters/runs").version == 3


def test_bad_keys_and_values_are_refused():
    store = KeyValueStore()
    for key in ("", "/abs", "a\x00b", "k" * 300):
        with pytest.raises(ValueError):
            run(store.put(key, 1))
    with pytest.raises(TypeError):
        run(store.put("obj", object()))
    assert store.keys() == []
