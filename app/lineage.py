"""The derivation graph of a workspace: models as nodes, parent links as edges, with runs, artifacts and evals."""
from __future__ import annotations

import datetime as _dt

from app.store import Store


def graph(store: Store, model_id: str | None = None) -> dict:
    """All models and edges, or, with an id, its ancestors and descendants and what was recorded for it."""
    models = store.models()
    if model_id is not None:
        store.require_model(model_id)
        keep = {m["id"] for m in store.chain(model_id)}
        children: dict[str, list[str]] = {}
        for m in models:
            if m["parent_id"]:
                children.setdefault(m["parent_id"], []).append(m["id"])
        todo = [model_id]
        while todo:
            current = todo.pop()
            for child in children.get(current, []):
                if child not in keep:
                    keep.add(child)
                    todo.append(child)
        models = [m for m in models if m["id"] in keep]
    edges = [{"from": m["parent_id"], "to": m["id"], "relation": m["relation"]} for m in models if m["parent_id"]]
    result = {"models": [_model_summary(m) for m in models], "edges": edges}
    if model_id is not None:
        result["runs"] = store.query("SELECT * FROM runs WHERE model_id = ? OR base_id = ? ORDER BY created",
                                     [model_id, model_id])
        result["artifacts"] = store.artifacts(model_id)
        result["evals"] = store.eval_results(model_id)
        result["events"] = store.events(model_id)
    return result


def _model_summary(m: dict) -> dict:
    return {k: m[k] for k in ("id", "stage", "parent_id", "relation", "license", "architecture", "parameters",
                              "context_length", "created", "expires", "source")}


def _expiry(expires: str | None, now: _dt.datetime) -> str:
    if not expires:
        return ""
    when = _dt.datetime.fromisoformat(expires)
    when = when if when.tzinfo else when.replace(tzinfo=_dt.timezone.utc)
    expired = when <= now
    return f"  ({'EXPIRED' if expired else 'expires'} {expires[:10]})"


def render_tree(result: dict, now: _dt.datetime) -> str:
    """The derivation forest as indented text, roots first (expiry shown for research models, EXPIRED once past
    `now`, the store's clock)."""
    if not result["models"]:
        return "no models yet (run `blackroad-studio init --demo` or `blackroad-studio fork`)"
    by_parent: dict[str | None, list[dict]] = {}
    ids = {m["id"] for m in result["models"]}
    for m in result["models"]:
        parent = m["parent_id"] if m["parent_id"] in ids else None
        by_parent.setdefault(parent, []).append(m)
    lines: list[str] = []

    def walk(node: dict, depth: int) -> None:
        extra = _expiry(node.get("expires"), now)
        rel = f" [{node['relation']}]" if node.get("relation") else ""
        lines.append(f"{'  ' * depth}{'└─ ' if depth else ''}{node['id']}{rel}{extra}")
        for child in by_parent.get(node["id"], []):
            walk(child, depth + 1)

    for root in by_parent.get(None, []):
        walk(root, 0)
    return "\n".join(lines)


