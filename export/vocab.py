"""A HF byte-level BPE tokenizer -> GGUF tokenizer metadata (gpt2 model), read from tokenizer.json directly.

The pre-tokenizer type is read from the tokenizer's own structure (its split regex, byte-level and digit steps),
not from a table of hashes of known vocabularies, so a team's own tokenizer with a known layout exports correctly
and an unknown layout is refused instead of silently tokenizing differently in llama.cpp.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from export.errors import ExportError, read_json
from training import fim

QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
# gguf.TokenType values (kept here so this module imports without gguf)
NORMAL, UNUSED, CONTROL, USER_DEFINED = 1, 5, 3, 4
EOT_NAMES = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>")
REPO_NAMES = ("<|repo_name|>", "<reponame>")


@dataclass
class Vocab:
    pre: str
    tokens: list[str]
    token_types: list[int]
    merges: list[str]
    special_ids: dict[str, int] = field(default_factory=dict)  # bos, eos, unk, pad, eot, fim_pre... -> id
    add_bos: bool = False
    add_eos: bool = False
    chat_template: str | None = None


def _steps(pre: dict | None) -> list[dict]:
    if not pre:
        return []
    if pre.get("type") == "Sequence":
        return [s for p in pre["pretokenizers"] for s in _steps(p)]
    return [pre]


def detect_pre(tokenizer: dict) -> str:
    """llama.cpp's tokenizer.ggml.pre name for this tokenizer's pre-tokenization, or ExportError."""
    steps = _steps(tokenizer.get("pre_tokenizer"))
    shape = []
    for step in steps:
        kind = step.get("type")
        if kind == "ByteLevel":
            if step.get("add_prefix_space"):
                raise ExportError("the tokenizer's ByteLevel pre-tokenizer adds a prefix space; llama.cpp's "
                                  "gpt2 tokenizer does not, so tokenization would differ")
            shape.append("bytelevel+regex" if step.get("use_regex", True) else "bytelevel")
        elif kind == "Split":
            pattern = step.get("pattern", {})
            regex = pattern.get("Regex", pattern.get("String"))
            shape.append({QWEN2_REGEX: "split:qwen2", LLAMA3_REGEX: "split:llama3"}.get(regex, f"split:{regex!r}"))
        elif kind == "Digits":
            shape.append("digits" if step.get("individual_digits") else "digits:grouped")
        else:
            shape.append(kind)
    known = {
        ("split:qwen2", "bytelevel"): "qwen2",
        ("split:llama3", "bytelevel"): "llama-bpe",
        ("bytelevel+regex",): "gpt-2",
        ("digits", "bytelevel+regex"): "smollm",
    }
    name = known.get(tuple(shape))
    if name is None:
        raise ExportError(f"unsupported pre-tokenizer layout {shape}: llama.cpp would tokenize differently "
                          "(supported: Qwen2, Llama 3, GPT-2 and SmolLM byte-level BPE)")
    normalizer = tokenizer.get("normalizer")
    if normalizer and normalizer.get("type") not in ("NFC",):
        raise ExportError(f"unsupported tokenizer normalizer {normalizer.get('type')!r}: llama.cpp does not apply it")
    return name


def _token_name(value) -> str | None:
    if isinstance(value, dict):
        value = value.get("content")
    return value or None


def _chat_template(root: Path, tok_cfg: dict) -> str | None:
    template = tok_cfg.get("chat_template")
    if isinstance(template, list):  # [{"name": "default", "template": ...}, ...]
        named = {t.get("name"): t.get("template") for t in template}
        template = named.get("default") or next(iter(named.values()), None)
    if not template and (root / "chat_template.jinja").is_file():
        template = (root / "chat_template.jinja").read_text(encoding="utf-8")
    return template or None


def _adds_special(tokenizer: dict, position: int) -> bool:
    """Whether the post-processor puts a special token first (position 0) or last (-1) of a single sequence."""
    for proc in _steps_post(tokenizer.get("post_processor")):
        if proc.get("type") == "TemplateProcessing":
            single = proc.get("single") or []
            if single and "SpecialToken" in single[position]:
                return True
    return False


def _steps_post(post: dict | None) -> list[dict]:
    if not post:
        return []
    if post.get("type") == "Sequence":
        return [s for p in post["processors"] for s in _steps_post(p)]
    return [post]


def load_vocab(root: Path | str, embedding_rows: int) -> Vocab:
    """Tokens padded to the embedding rows, their types, merges, special ids, flags and chat template."""
    root = Path(root)
    path = root / "tokenizer.json"
    if not path.is_file():
        extra = " (only a sentencepiece tokenizer.model; export needs a byte-level BPE tokenizer.json)" \
            if (root / "tokenizer.model").is_file() else ""
        raise ExportError(f"{root} has no tokenizer.json{extra}: the tokenizer files are required to export")
    tokenizer = read_json(path)
    model = tokenizer.get("model") or {}
    if model.get("type") != "BPE":
        raise ExportError(f"unsupported tokenizer model {model.get('type')!r}: export writes byte-level BPE (gpt2)")
    pre = detect_pre(tokenizer)
    tok_cfg = read_json(root / "tokenizer_config.json") if (root / "tokenizer_config.json").is_file() else {}
    cfg = read_json(root / "config.json") if (root / "config.json").is_file() else {}

    by_id: dict[int, str] = {int(i): t for t, i in model.get("vocab", {}).items()}
    added = {int(a["id"]): a for a in tokenizer.get("added_tokens", [])}
    for i, a in added.items():
        by_id[i] = a["content"]
    size = max(by_id) + 1 if by_id else 0
    if size > embedding_rows:
        raise ExportError(f"the tokenizer has {size} tokens but the embedding has only {embedding_rows} rows; "
                          "the tokenizer does not belong to these weights")
    tokens, types = [], []
    for i in range(embedding_rows):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(UNUSED)
        elif i in added:
            text = by_id[i]
            looks_special = text.startswith("<|") and text.endswith("|>")
            tokens.append(text)
            types.append(CONTROL if added[i].get("special") or looks_special else USER_DEFINED)
        else:
            tokens.append(by_id[i])
            types.append(NORMAL)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges", [])]

    ids = {t: i for i, t in by_id.items()}
    special: dict[str, int] = {}
    for key in ("bos", "eos", "unk", "pad"):
        name = _token_name(tok_cfg.get(f"{key}_token"))
        if name is not None and name in ids:
            special[key] = ids[name]
        elif isinstance(cfg.get(f"{key}_token_id"), int) and cfg[f"{key}_token_id"] < embedding_rows:
            special[key] = cfg[f"{key}_token_id"]
    for name in EOT_NAMES:
        if name in ids:
            special["eot"] = ids[name]
            break
    fmt = fim.detect(ids)
    if fmt is not None:
        special.update(fim_pre=ids[fmt.prefix], fim_suf=ids[fmt.suffix], fim_mid=ids[fmt.middle])
        if fmt.pad and fmt.pad in ids:
            special["fim_pad"] = ids[fmt.pad]
        if fmt.file_sep and fmt.file_sep in ids:
            special["fim_sep"] = ids[fmt.file_sep]
        for name in REPO_NAMES:
            if name in ids:
                special["fim_rep"] = ids[name]
    add_bos = tok_cfg["add_bos_token"] if isinstance(tok_cfg.get("add_bos_token"), bool) else _adds_special(tokenizer, 0)
    add_eos = tok_cfg["add_eos_token"] if isinstance(tok_cfg.get("add_eos_token"), bool) else _adds_special(tokenizer, -1)
    return Vocab(pre=pre, tokens=tokens, token_types=types, merges=merges, special_ids=special,
                 add_bos=bool(add_bos and "bos" in special), add_eos=bool(add_eos and "eos" in special),
                 chat_template=_chat_template(root, tok_cfg))


def add_to_writer(writer, vocab: Vocab) -> None:
    """Write the tokenizer.ggml.* keys (and the chat template) through a gguf.GGUFWriter."""
    from gguf import Keys

    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(vocab.pre)
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.token_types)
    if vocab.merges:
        writer.add_token_merges(vocab.merges)
    keys = {"bos": Keys.Tokenizer.BOS_ID, "eos": Keys.Tokenizer.EOS_ID, "unk": Keys.Tokenizer.UNK_ID,
            "pad": Keys.Tokenizer.PAD_ID, "eot": Keys.Tokenizer.EOT_ID, "fim_pre": Keys.Tokenizer.FIM_PRE_ID,
            "fim_suf": Keys.Tokenizer.FIM_SUF_ID, "fim_mid": Keys.Tokenizer.FIM_MID_ID,
            "fim_pad": Keys.Tokenizer.FIM_PAD_ID, "fim_rep": Keys.Tokenizer.FIM_REP_ID,
            "fim_sep": Keys.Tokenizer.FIM_SEP_ID}
    for name, token_id in vocab.special_ids.items():
        writer.add_uint32(keys[name], token_id)
    writer.add_add_bos_token(vocab.add_bos)
    writer.add_add_eos_token(vocab.add_eos)
    if vocab.chat_template:
        writer.add_chat_template(vocab.chat_template)
