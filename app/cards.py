"""LINEAGE.md: the lineage document of a model, every value read from the store (the seed document's sections),
and `write_cards`, which writes it (with the HF card and Modelfiles) beside the model's artifacts and records them.
"""
from __future__ import annotations

import datetime as _dt
from pathlib import Path

from app import checklists, intervals, model_card
from app import evidence as ev
from app.errors import StudioError
from app.ids import folder_name
from app.lineage import graph, render_tree
from app.store import Store
from app.workspace import Workspace
from training.fileio import atomic_write_text, sha256_file

NOT_RECORDED = "not recorded"


def _v(value) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return NOT_RECORDED
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return format(value, ".6g")
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(_v(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_v(v)}" for k, v in sorted(value.items()))
    return str(value).replace("|", "\\|").replace("\n", " ")


def _kv(rows: list[tuple[str, object]]) -> list[str]:
    return ["| field | value |", "|---|---|"] + [f"| {k} | {_v(v)} |" for k, v in rows]


def _dict_table(d: dict | None, skip: tuple[str, ...] = ()) -> list[str]:
    items = [(k, v) for k, v in sorted((d or {}).items()) if k not in skip]
    return _kv(items) if items else [NOT_RECORDED]


def _table(rows: list[dict], root: Path) -> list[str]:
    """A markdown table over dicts, columns in first-seen order."""
    if not rows:
        return [NOT_RECORDED]
    cols: list[str] = [c for c in ("repo", "name", "commit", "path") if any(c in r for r in rows)]
    for r in rows:
        cols += [k for k in r if k not in cols]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = [ev.display_path(r[c], root) if c in ("path", "root") and r.get(c) else _v(r.get(c)) for c in cols]
        out.append("| " + " | ".join(cells) + " |")
    return out


class _Card:
    def __init__(self, ws: Workspace, store: Store, model_id: str, now: _dt.datetime | None):
        self.ws, self.store, self.root = ws, store, ws.root
        self.model = store.require_model(model_id)
        self.now = now or store.clock()
        self.ids = ev.evidence_ids(store, self.model)
        self.base = ev.base_model(store, self.model)
        self.run = ev.training_run(store, self.ids) if self.model["stage"] != "forkies" else None
        self.snap = ev.training_snapshot(store, self.ids, self.run) if self.model["stage"] != "forkies" else None

    def p(self, path) -> str:
        return ev.display_path(path, self.root)

    def render(self) -> str:
        m = self.model
        parts = [[f"# LINEAGE: {m['id']}", "",
                  f"The lineage of {m['id']} (stage {m['stage']}), written by blackroad-studio from its lineage "
                  f"store. Every value is a record of the store; \"{NOT_RECORDED}\" and \"not measured\" mean "
                  "the store holds none."]]
        for title, fn in (("Derivation chain", self.chain), ("Base model", self.base_section),
                          ("Derivation method", self.method), ("Training data", self.data),
                          ("Training configuration", self.config), ("Performance against the base", self.performance),
                          ("Attribution and licensing", self.attribution), ("Next steps", self.next_steps),
                          ("Timeline", self.timeline), ("Metadata", self.metadata)):
            parts.append([f"## {title}", "", *fn()])
        return "\n\n".join("\n".join(p) for p in parts).rstrip() + "\n"

    # -- sections -------------------------------------------------------------------------------------------------
    def chain(self) -> list[str]:
        g = graph(self.store, self.model["id"])
        tree = [line + ("   <- this model" if line.strip().removeprefix("└─ ").split(" ")[0] == self.model["id"] else "")
                for line in render_tree(g, self.now).splitlines()]
        out = ["```text", *tree, "```", ""]
        by_id = {m["id"]: m for m in self.store.models()}
        for edge in g["edges"]:
            child = by_id[edge["to"]]
            out.append(f"- {edge['from']} -> {edge['to']}: {edge['relation'] or NOT_RECORDED}, "
                       f"{child['created']}{self._how(child)}")
        return out

    def _how(self, child: dict) -> str:
        if child["relation"] == "promotion":
            row = self.store.one("SELECT * FROM promotions WHERE model_id = ? ORDER BY id DESC LIMIT 1", [child["id"]])
            if row:
                n = self.store.one("SELECT COUNT(*) AS n, SUM(passed) AS ok FROM promotion_items WHERE promotion_id = ?",
                                   [row["id"]])
                return f" (promotion #{row['id']} to {row['to_stage']}, {n['ok']}/{n['n']} checklist items passed)"
        run_id = (child["details"] or {}).get("run_id")
        return f" (run {run_id})" if run_id else ""

    def base_section(self) -> list[str]:
        b = self.base
        if b is None:
            return [NOT_RECORDED]
        upstream = (b["details"] or {}).get("upstream") or {}
        return _kv([("id", b["id"]), ("upstream", upstream.get("upstream") or upstream.get("hub_id") or b["source"]),
                    ("hub id", model_card.base_hub_id(b)), ("source kind", upstream.get("source_kind")),
                    ("architecture", b["architecture"]), ("parameters", b["parameters"]),
                    ("context length", b["context_length"]), ("vocabulary", b["vocab_size"]),
                    ("license", b["license"]), ("source sha256", b["source_sha256"]), ("forked", b["created"])])

    def method(self) -> list[str]:
        m = self.model
        if m["stage"] == "forkies":
            return ["This is a base model (a fork); nothing was derived."]
        lora = ev.lora_config(self.ids, self.store, self.run)
        research = next((self.store.require_model(i) for i in self.ids if i.startswith("research/")), m)
        details = research["details"] or {}
        out = [f"{research['relation'] or NOT_RECORDED} of {research['parent_id']}"
               + (f"; promoted as {m['id']} without retraining" if m["id"] != research["id"] else "") + ".", "",
               "LoRA configuration:", "", *_dict_table(lora), ""]
        merged = ev.current_artifacts(self.store, research["id"], ("merged",))
        out += _kv([("adapter", self.p(details["adapter_path"]) if details.get("adapter_path") else None),
                    ("merged weights", self.p(merged[-1]["path"]) if merged else
                     (self.p(details["merged_path"]) if details.get("merged_path") else None))])
        return out

    def data(self) -> list[str]:
        s = self.snap
        if s is None:
            return [NOT_RECORDED if self.model["stage"] != "forkies" else "A base model: no training data recorded here."]
        stats, config = s["stats"] or {}, s["config"] or {}
        nested = ("languages", "dropped", "secret_findings", "classification", "feedback")
        out = _kv([("snapshot", s["id"]), ("content hash", s["content_hash"]), ("path", self.p(s["path"])),
                   ("created", s["created"])])
        out += ["", "### Sources", "", *_table(list(s["sources"] or []), self.root)]
        out += ["", "### Counts", "", *_dict_table(stats, skip=nested)]
        out += ["", "### Language mix", "", *self._languages(stats.get("languages"))]
        if stats.get("feedback"):
            out += ["", "### Feedback", "", stats["feedback"]["summary"]]
        out += ["", "### Filters", "", *_dict_table(config), "", "Dropped (reason, count):", "",
                *_dict_table(stats.get("dropped"))]
        subject = checklists.Subject(self.ws, self.store, self.model, self.now)
        passed, text = checklists.CHECKS["secret-scan"](subject, {})
        out += ["", "### Secret scan", "", f"{'clean' if passed else 'NOT clean'}: {text}"]
        findings = [{k: f.get(k) for k in ("repo", "path", "line", "kind", "fingerprint", "false_positive")
                     if k in f} for f in stats.get("secret_findings") or []]
        if findings:  # where and what kind, never the value (curation stores none) nor its masked shape
            out += ["", *_table(findings[:50], self.root)]
            out += [f"... and {len(findings) - 50} more"] if len(findings) > 50 else []
        if config.get("secret_false_positives"):
            out += ["", "### Secret false positives", "", *self._false_positives(config)]
        out += ["", "### Classification", "", _v(stats.get("classification") or config.get("classification"))]
        return out

    def _false_positives(self, config: dict) -> list[str]:
        """The reviewers' marks this snapshot applied (by fingerprint), with who marked them and why."""
        fps = config["secret_false_positives"]
        marks = {r["fingerprint"]: r for r in self.store.query("SELECT * FROM secret_marks")}
        rows = [{"fingerprint": fp, **({k: marks[fp][k] for k in ("kind", "repo", "path", "line", "by", "created",
                                                                    "note")} if fp in marks else
                                       {"by": "mark since removed"})} for fp in fps]
        return _table(rows, self.root)

    @staticmethod
    def _languages(langs) -> list[str]:
        """Snippets per language with their share; curation records a number or a dict of counts per language."""
        if not isinstance(langs, dict) or not langs:
            return [NOT_RECORDED]
        counts = {k: (v.get("snippets", 0) if isinstance(v, dict) else v) for k, v in langs.items()}
        total = sum(c for c in counts.values() if isinstance(c, (int, float))) or 1
        extra = sorted({k for v in langs.values() if isinstance(v, dict) for k in v} - {"snippets"})
        out = ["| language | snippets | share |" + "".join(f" {k} |" for k in extra), "|---|---|---|" + "---|" * len(extra)]
        for lang in sorted(counts, key=lambda k: (-counts[k], k)):
            more = "".join(f" {_v(langs[lang].get(k))} |" for k in extra) if isinstance(langs[lang], dict) else " – |" * len(extra)
            out.append(f"| {lang} | {_v(counts[lang])} | {counts[lang] / total:.1%} |{more}")
        return out

    def config(self) -> list[str]:
        r = self.run
        if r is None:
            return [NOT_RECORDED if self.model["stage"] != "forkies" else "A base model: no training run."]
        config, result = r["config"] or {}, r["result"] or {}
        nested = ("lora", "hardware", "versions", "packages")
        out = _kv([("run", r["id"]), ("status", r["status"]), ("seed", r["seed"]), ("config hash", r["config_hash"]),
                   ("host", r["host"]), ("started", r["started"]), ("finished", r["finished"])])
        out += ["", "### Hyperparameters", "", *_dict_table(config, skip=nested)]
        hardware = config.get("hardware") or result.get("hardware")
        out += ["", "### Hardware", "", *(_dict_table(hardware) if isinstance(hardware, dict) else [_v(hardware)])]
        versions = config.get("versions") or result.get("versions") or config.get("packages") or result.get("packages")
        out += ["", "### Package versions", "", *(_dict_table(versions) if isinstance(versions, dict) else [_v(versions)])]
        out += ["", "### Result", "", *_dict_table(result, skip=nested)]
        metrics = self.store.metrics(r["id"])
        losses = [x for x in metrics if x["loss"] is not None]
        if losses:
            out += ["", f"{len(metrics)} steps logged; loss {losses[0]['loss']:.4g} at step {losses[0]['step']} -> "
                        f"{losses[-1]['loss']:.4g} at step {losses[-1]['step']}."]
        return out

    def performance(self) -> list[str]:
        out: list[str] = []
        base_id = self.base["id"] if self.base else "the base"
        for suite in ev.performance(self.store, self.model):
            out += [f"### {suite['suite']}", ""]
            if not suite["rows"]:
                out += ["not measured", ""]
                continue
            out += intervals.markdown_table(suite["rows"], "metric", base_id, self.model["id"])
            first = suite["rows"][0]
            art = first["artifact"]
            on = f"{art['kind']} {art['quant_type'] or ''} {self.p(art['path'])}".replace("  ", " ") if art else NOT_RECORDED
            out += ["", f"Measured on {on}; settings {first['settings_hash']}; run {_v(first['run_id'])}; "
                        f"{first['created']}.", ""]
        return out

    def attribution(self) -> list[str]:
        b = self.base
        out = [f"Base license: {_v(b['license']) if b else NOT_RECORDED}.",
               f"This model's license: {_v(self.model['license'])}.", ""]
        out += ["Notice (ships beside every artifact):", "", *(f"> {line}" if line else ">" for line in
                                                               (model_card.notice(b) if b else NOT_RECORDED).splitlines())]
        cards = ev.current_artifacts(self.store, self.model["id"], ("hf-card", "modelfile"))
        out += ["", "Cards beside the artifacts:", ""]
        out += [f"- {c['kind']}: {self.p(c['path'])}" for c in cards] or [
            f"none written yet (run `blackroad-studio card {self.model['id']}`)"]
        if self.snap:
            out += ["", f"Training data: snapshot {self.snap['id']} of {len(self.snap['sources'] or [])} source(s), "
                        "listed under Training data."]
        return out

    def next_steps(self) -> list[str]:

        m = self.model
        if m["stage"] == "forkies":
            return [f"Train a LoRA on this base: `blackroad-studio train --base {m['id']} --snapshot SNAPSHOT "
                    "--id research/OWNER/NAME`."]
        if m["stage"] not in checklists.NEXT_STAGE:
            return ["Production is the last stage: nothing to promote. Re-check the artifacts with "
                    f"`blackroad-studio checklist {m['id']} --to production`."]
        to = checklists.NEXT_STAGE[m["stage"]]
        try:
            result = checklists.evaluate(self.ws, self.store, m["id"], to, self.now)
        except StudioError as exc:
            return [f"The checklist to {to} cannot be evaluated: {exc}"]
        out = [f"Checklist to {to} ({', '.join(self._source(s) for s in result['checklist'])}):", "",
               "| item | state | evidence |", "|---|---|---|"]
        out += [f"| {i['name']} | {'pass' if i['passed'] else 'FAIL'} | {_v(self._rel(i['evidence']))} |"
                for i in result["items"]]
        if result["ready"]:
            out += ["", "Every item passes. Promote with:"]
        else:
            out += ["", f"Not ready: {len(result['failing'])} item(s) fail ({', '.join(result['failing'])}). "
                        "Once they pass, promote with:"]
        return out + ["", "```sh", result["command"], "```"]

    def _source(self, path: str) -> str:
        """A checklist file: the default as assets/checklists/NAME, a workspace override relative to it."""
        p = Path(path)
        return f"default assets/checklists/{p.name}" if p.parent == checklists.default_dir() else self.p(p)

    def _rel(self, text: str) -> str:
        return text.replace(str(self.root.resolve()) + "/", "").replace(str(self.root) + "/", "")

    def timeline(self) -> list[str]:
        g = graph(self.store, self.model["id"])
        models = [m["id"] for m in g["models"]]
        runs = [r["id"] for r in self.store.query(
            f"SELECT id FROM runs WHERE model_id IN ({','.join('?' for _ in models)})", models)]
        rows = []
        for e in self.store.events():
            payload = e["payload"] or {}
            mine = e["model_id"] in models or (e["run_id"] and e["run_id"] in runs) or (
                self.snap is not None and e["kind"] == "snapshot.created" and payload.get("snapshot_id") == self.snap["id"])
            if not mine or (e["kind"] == "artifact.recorded" and payload.get("kind") in ev.CARD_KINDS):
                continue
            detail = ", ".join(f"{k}={self._rel(str(v)) if k != 'sha256' else str(v)[:12]}" for k, v in sorted(payload.items())
                               if v not in (None, "", [], {}))
            rows.append(f"| {e['time']} | {e['kind']} | {e['model_id'] or e['run_id'] or ''} | {_v(detail) if detail else ''} |")
        return ["| time | event | subject | detail |", "|---|---|---|---|", *rows] if rows else [NOT_RECORDED]

    def metadata(self) -> list[str]:
        m = self.model
        out = _kv([("id", m["id"]), ("name", m["name"]), ("version", m["version"]), ("stage", m["stage"]),
                   ("owner", m["owner"]), ("parent", m["parent_id"]), ("relation", m["relation"]),
                   ("created", m["created"]), ("expires", m["expires"] or "never"), ("license", m["license"]),
                   ("weights (HF)", self.p(m["path"]) if m["path"] else None),
                   ("default GGUF", self.p(m["gguf_path"]) if m["gguf_path"] else None)])
        arts = [a for a in ev.current_artifacts(self.store, m["id"]) if a["kind"] != "lineage-card"]
        out += ["", "Artifacts:", ""]
        if not arts:
            return out + ["none recorded"]
        out += ["| # | kind | type | path | sha256 | bytes |", "|---|---|---|---|---|---|"]
        out += [f"| {a['id']} | {a['kind']} | {a['quant_type'] or '–'} | {self.p(a['path'])} | `{a['sha256']}` | "
                f"{a['size_bytes']:,} |" for a in arts]
        return out


def render(ws: Workspace, store: Store, model_id: str, now: _dt.datetime | None = None) -> str:
    return _Card(ws, store, model_id, now).render()


def lineage_card(ws: Workspace, model_id: str, now: _dt.datetime | None = None) -> str:
    """LINEAGE.md for a model, from the store alone."""
    store = ws.store()
    try:
        return render(ws, store, model_id, now)
    finally:
        store.close()


def _write_card(store: Store, model_id: str, path: Path, kind: str, text: str) -> dict:
    """Write a card atomically and record it (once per content); the first card at a path keeps the hash of the
    file it replaced, so a folder artifact's sha256 still verifies."""
    replaced = sha256_file(path) if path.is_file() else None
    prior = store.one("SELECT * FROM artifacts WHERE path = ? AND kind IN ('lineage-card', 'hf-card', 'modelfile') "
                      "ORDER BY id DESC LIMIT 1", [str(path)])
    sha = atomic_write_text(path, text)
    if prior is None or (prior["sha256"], prior["model_id"], prior["kind"]) != (sha, model_id, kind):
        details = {"replaced_sha256": replaced} if prior is None and replaced else {}
        store.add_artifact(kind, path, sha, path.stat().st_size, model_id=model_id, **details)
    return {"path": str(path), "kind": kind, "sha256": sha}


def write_cards(ws: Workspace, model_id: str, now: _dt.datetime | None = None) -> dict:
    """Write the HF card and Modelfiles beside the model's shipped artifacts, then LINEAGE.md there and in
    <workspace>/models/<id>/. Forks get only the latter: their source folders are never written into."""
    store = ws.store()
    try:
        model = store.require_model(model_id)
        files: list[dict] = []
        folders: dict[Path, list[dict]] = {}
        if model["stage"] != "forkies":
            for art in ev.current_artifacts(store, model_id, ev.SHIPPED_KINDS):
                if Path(art["path"]).exists():
                    folders.setdefault(model_card.readme_path(art).parent, []).append(art)
        try:
            for folder, arts in folders.items():
                files.append(_write_card(store, model_id, folder / "README.md", "hf-card",
                                         model_card.readme(store, model, arts, ws.root)))
                for art in arts:
                    if art["kind"] == "gguf":
                        files.append(_write_card(store, model_id, model_card.modelfile_path(art), "modelfile",
                                                 model_card.modelfile(store, model, art)))
            text = render(ws, store, model_id, now)
            for target in [ws.dir("models") / folder_name(model_id) / "LINEAGE.md", *(f / "LINEAGE.md" for f in folders)]:
                files.append(_write_card(store, model_id, target, "lineage-card", text))
        except OSError as exc:
            raise StudioError(f"cannot write the cards of {model_id}: {exc.strerror or exc}") from None
        return {"id": model_id, "markdown": text, "files": files}
    finally:
        store.close()
