"""What a server serves: each model's GGUF (the type asked for, else the first of PREFERENCE that the model has), its
sha256 from the lineage store, and the names it answers to (its id, its stage alias, the capabilities routed to it)."""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path

from app import routes as routing
from app.errors import StudioError
from app.evidence import current_artifacts
from app.store import Store
from app.workspace import Workspace

# The GGUF a model is served from when --type is not given: Q4_0 first because llama.cpp repacks it at load time
# for the CPU's vector units and it decodes fastest on CPUs (docs/benchmarks.md, "Serving"); then the other
# 4-6 bit types, then Q8_0 and the float files. On a GPU the K-quants and Q8_0 are as fast: pass --type there.
PREFERENCE = ("q4_0", "q4_k_m", "q4_k_s", "q5_k_m", "q5_0", "q6_k", "q8_0", "q4_1", "f16", "bf16", "f32")


@dataclass
class ServedModel:
    id: str
    path: str
    sha256: str
    quant_type: str | None
    size_bytes: int
    created: int
    aliases: list[str] = field(default_factory=list)
    capabilities: list[str] = field(default_factory=list)

    def describe(self) -> dict:
        return {"id": self.id, "aliases": self.aliases, "capabilities": self.capabilities,
                "quant_type": self.quant_type, "sha256": self.sha256, "path": self.path}


def _rank(art: dict) -> tuple[int, int]:
    qt = (art.get("quant_type") or "").lower()
    return (PREFERENCE.index(qt) if qt in PREFERENCE else len(PREFERENCE), -art["id"])


def gguf_of(store: Store, model_id: str, quant_type: str | None = None) -> dict:
    """The GGUF artifact row a model is served from; StudioError when it has none (of that type)."""
    arts = [a for a in current_artifacts(store, model_id, ("gguf",)) if Path(a["path"]).is_file()]
    if not arts:
        raise StudioError(f"{model_id} has no GGUF on disk to serve (export it first: blackroad-studio export "
                          f"{model_id} --type q4_0)")
    if quant_type:
        typed = [a for a in arts if (a.get("quant_type") or "").lower() == quant_type.lower()]
        if not typed:
            have = ", ".join(sorted({a.get("quant_type") or "?" for a in arts}))
            raise StudioError(f"{model_id} has no {quant_type} GGUF (it has: {have})")
        arts = typed
    return min(arts, key=_rank)


def default_ids(store: Store) -> list[str]:
    """Every internal and production model with a GGUF; where there is none (a demo workspace), every model with
    one, newest first."""
    with_gguf = [m for m in store.query("SELECT id, stage, created FROM models ORDER BY created DESC, id")
                 if any(Path(a["path"]).is_file() for a in current_artifacts(store, m["id"], ("gguf",)))]
    staged = [m["id"] for m in with_gguf if m["stage"] in ("internal", "production")]
    return staged or [m["id"] for m in with_gguf]


def _epoch(iso: str) -> int:
    try:
        return int(_dt.datetime.fromisoformat(iso).timestamp())
    except (TypeError, ValueError):
        return 0


def build(ws: Workspace, names: list[str] | tuple[str, ...] = (), quant_type: str | None = None) -> list[ServedModel]:
    """The models to serve for NAMES (ids, aliases or capabilities; none: default_ids)."""
    with ws.store() as store:
        if names:
            wanted = []
            for name in names:
                model_id = routing.resolve(store, name)
                if model_id is None:
                    raise StudioError(f"{name!r} is neither a model id, an alias nor a routed capability of this "
                                      "workspace (see `blackroad-studio lineage` and `route list`)")
                wanted.append(model_id)
        else:
            wanted = default_ids(store)
            if not wanted:
                raise StudioError("no model with a GGUF to serve in this workspace (run `blackroad-studio demo`, "
                                  "or export a model)")
        served = []
        for model_id in dict.fromkeys(wanted):
            art = gguf_of(store, model_id, quant_type)
            served.append(ServedModel(
                id=model_id, path=art["path"], sha256=art["sha256"], quant_type=art.get("quant_type"),
                size_bytes=int(art["size_bytes"]), created=_epoch(store.require_model(model_id)["created"]),
                aliases=routing.aliases_of(store, model_id),
                capabilities=[r["capability"] for r in routing.routes(store) if r["resolves_to"] == model_id]))
        return served
