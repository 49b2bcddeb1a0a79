"""Cards that ship beside the weights: a Hugging Face model card (README.md with YAML base_model,
base_model_relation, license, model-index) and an Ollama Modelfile (stop tokens, a FIM-ready template).

Both carry the base's license and attribution notice, which the promotion checklist's attribution item looks for.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from app import evidence as ev
from app import intervals
from app.store import Store
from training import fim

FOLDER_KINDS = ("merged", "adapter")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
DATASETS = {"humaneval": ("HumanEval", "openai_humaneval"), "internal": ("internal benchmark", "internal")}


def readme_path(art: dict) -> Path:
    p = Path(art["path"])
    return p / "README.md" if art["kind"] in FOLDER_KINDS else p.parent / "README.md"


def modelfile_path(art: dict) -> Path:
    p = Path(art["path"])
    return p.parent / f"{p.stem}.Modelfile"


def hf_license(license: str | None) -> str:
    lic = (license or "").strip().lower()
    return lic if lic and lic != "unknown" else "other"


def base_hub_id(base: dict) -> str | None:
    """The base's hub id: recorded at fork time, or the first word of its upstream description."""
    upstream = (base.get("details") or {}).get("upstream") or {}
    if upstream.get("hub_id"):
        return upstream["hub_id"]
    first = (upstream.get("upstream") or "").split(" ")[0]
    return first if _HUB_ID.match(first) else None


def notice(base: dict) -> str:
    """The attribution line every shipped artifact carries (plus the base's own NOTICE file, where it has one)."""
    upstream = base_hub_id(base) or base.get("source") or base["id"]
    line = (f"Derived from {upstream} (registered as {base['id']}), licensed under {base.get('license') or 'unknown'}; "
            f"its license and notice apply to these weights.")
    base_notice = Path(base["path"]) / "NOTICE" if base.get("path") else None
    if base_notice is not None and base_notice.is_file():
        line += "\n\n" + base_notice.read_text(encoding="utf-8", errors="replace").strip()
    return line


def attribution_present(art: dict, base: dict) -> bool:
    """Whether the license and notice of the base lie beside this artifact (README.md; for a GGUF, its Modelfile)."""
    wanted = notice(base).splitlines()[0]
    paths = [readme_path(art)] + ([modelfile_path(art)] if art["kind"] == "gguf" else [])
    for path in paths:
        if not path.is_file():
            return False
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
        if wanted not in text or hf_license(base.get("license")) not in text.lower():
            return False
    return True


def _model_index(model: dict, perf: list[dict], snapshot_id: str | None) -> list[dict]:
    results = []
    for suite in perf:
        if not suite["rows"] or suite["suite"] not in DATASETS:
            continue
        name, kind = DATASETS[suite["suite"]]
        if suite["suite"] == "internal" and snapshot_id:
            name = f"{name} ({snapshot_id})"
        metrics = [{"name": r["metric"] + (f" [{r['category']}]" if r["category"] else ""), "type": r["metric"],
                    "value": round(float(r["value"]), 4), "verified": False} for r in suite["rows"]]
        results.append({"task": {"type": "text-generation"}, "dataset": {"name": name, "type": kind},
                        "metrics": metrics})
    return [{"name": model["id"], "results": results}] if results else []


def readme(store: Store, model: dict, arts: list[dict], root: Path | None) -> str:
    """README.md for the folder holding `arts` (the model's artifacts there)."""
    import yaml

    base = ev.base_model(store, model)
    ids = ev.evidence_ids(store, model)
    run = ev.training_run(store, ids)
    snap = ev.training_snapshot(store, ids, run)
    perf = ev.performance(store, model)
    only_adapters = all(a["kind"] in ("adapter", "gguf-adapter") for a in arts)
    meta: dict = {}
    hub = base_hub_id(base) if base else None
    if hub:
        meta["base_model"] = hub
        meta["base_model_relation"] = "adapter" if only_adapters else "finetune"
    meta["license"] = hf_license(base.get("license") if base else None)
    if meta["license"] == "other" and base and base.get("license"):
        meta["license_name"] = base["license"]
    meta["library_name"] = "peft" if only_adapters and any(a["kind"] == "adapter" for a in arts) else (
        "transformers" if any(a["kind"] == "merged" for a in arts) else "gguf")
    meta["tags"] = ["code", "lora", "blackroad-studio"] + (["gguf"] if any(a["kind"] == "gguf" for a in arts) else [])
    index = _model_index(model, perf, snap["id"] if snap else None)
    if index:
        meta["model-index"] = index
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    lora = ev.lora_config(ids, store, run)
    lines = [f"---\n{front}---", "", f"# {model['id']}", ""]
    derived = f"a LoRA fine-tune (r={lora.get('r')}, alpha={lora.get('alpha', lora.get('lora_alpha'))})" if lora else "a fine-tune"
    lines += [f"{model['id']} is {derived} of {base['id'] if base else 'an unrecorded base'}"
              + (f" on the dataset snapshot {snap['id']}" if snap else "") + ", made with blackroad-studio.", ""]
    lines += ["## Files", "", "| file | kind | type | sha256 | bytes |", "|---|---|---|---|---|"]
    for a in arts:
        lines.append(f"| {Path(a['path']).name} | {a['kind']} | {a['quant_type'] or '–'} | `{a['sha256']}` | "
                     f"{a['size_bytes']:,} |")
    lines += ["", "## Evaluation", "", "Scored with the same harness and settings as the base; see LINEAGE.md. Beside each "
              "number its 95% interval over the samples (Wilson for pass rates, a seeded bootstrap otherwise); beside "
              "each delta its paired 95% interval (the same samples, resampled together): \"within noise\" when it "
              "holds zero.", ""]
    measured = [s for s in perf if s["rows"]]
    if not measured:
        lines.append("not measured")
    for suite in measured:
        lines += [*intervals.markdown_table(suite["rows"], suite["suite"], "base", "this model"), ""]
    ggufs = [a for a in arts if a["kind"] == "gguf"]
    if ggufs:
        lines += ["", "## Use", "", "```sh", f"ollama create {model['name']} -f {modelfile_path(ggufs[0]).name}",
                  f"llama-cli -m {Path(ggufs[0]['path']).name} -p 'def fib(n):'", "```"]
    lines += ["", "## License and attribution", "", notice(base) if base else "The base model is not recorded.", ""]
    return "\n".join(lines).rstrip() + "\n"


def _vocab_and_specials(store: Store, model: dict) -> tuple[set[str], dict]:
    """Token strings and bos/eos names from the nearest tokenizer.json along the chain (empty when none)."""
    from training.tokenizer import special_tokens

    for m in store.chain(model["id"]):
        for folder in (m.get("path"), (m.get("details") or {}).get("merged_path")):
            if folder and (Path(folder) / "tokenizer.json").is_file():
                data = json.loads((Path(folder) / "tokenizer.json").read_text(encoding="utf-8"))
                vocab = set((data.get("model") or {}).get("vocab") or {})
                vocab |= {t["content"] for t in data.get("added_tokens", [])}
                return vocab, special_tokens(folder)
    return set(), {}


def modelfile(store: Store, model: dict, gguf_art: dict) -> str:
    """An Ollama Modelfile for one GGUF: FIM template when the vocabulary has FIM tokens, stops, license."""
    base = ev.base_model(store, model)
    vocab, specials = _vocab_and_specials(store, model)
    fmt = fim.detect(vocab) if vocab else None
    stops = [specials.get("eos_token"), "<|endoftext|>" if "<|endoftext|>" in vocab else None]
    if fmt is not None:
        stops += list(fmt.tokens)
        template = ("{{- if .Suffix }}" + fmt.psm("{{ .Prompt }}", "{{ .Suffix }}")
                    + "{{- else }}{{ .Prompt }}{{- end }}")
    else:
        template = "{{ .Prompt }}"
    seen: list[str] = []
    for s in stops:
        if s and s not in seen:
            seen.append(s)
    ctx = min(int(model.get("context_length") or (base or {}).get("context_length") or 4096), 4096)
    lines = [f"# Ollama Modelfile for {model['id']} (blackroad-studio)",
             f"# FIM: {fmt.name + ' tokens' if fmt else 'none in the vocabulary; plain prefix completion'}",
             f"FROM ./{Path(gguf_art['path']).name}",
             f'TEMPLATE """{template}"""']
    lines += [f'PARAMETER stop "{s}"' for s in seen]
    lines += ["PARAMETER temperature 0.2", f"PARAMETER num_ctx {ctx}",
              f'LICENSE """{hf_license(base.get("license") if base else None)}\n\n'
              f'{notice(base) if base else "The base model is not recorded."}"""']
    return "\n".join(lines) + "\n"
