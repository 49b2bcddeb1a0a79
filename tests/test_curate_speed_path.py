"""The curation speed path (issue 20): the CLI and the in-process call take the same worker path, and the faster
pieces of the engine give exactly what the plain ones give (token counts by words, MinHashes in one pass, held-out
categories set as bytes)."""
import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from app.forks import fork
from app.repos import cache_path
from app.workspace import Workspace
from cli_runner import ROOT, run_cli

STDLIB = Path(sysconfig.get_paths()["stdlib"])


def _one_call(ws_root: Path, folder: Path) -> dict:
    """app.curation.curate in a fresh Python process, as a library caller (or bench/curate.py) runs it."""
    code = ("import json, sys; from app.curation import curate; from app.workspace import Workspace; "
            "print(json.dumps(curate(Workspace.open(sys.argv[1]), paths=[sys.argv[2]]), default=str))")
    done = subprocess.run([sys.executable, "-c", code, str(ws_root), str(folder)], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_cli_and_in_process_call_take_the_same_worker_path(tmp_path, tiny_qwen2):
    from training.curation.curate import PARALLEL_MIN_FILES

    ws = Workspace.open(tmp_path / "ws")
    fork(ws, str(tiny_qwen2), "forkies/tiny@v0.1.0")
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(PARALLEL_MIN_FILES + 10):     # enough files for the worker processes
        (folder / f"mod_{i}.py").write_text(f"def f_{i}(a, b):\n    c = a * {i} + b\n    return c - {i}\n\n\n"
                                            f"class C{i}:\n    def g(self, x):\n        return x + {i}\n")
    in_process = _one_call(ws.root, folder)
    for p in cache_path(ws).parent.glob("files.db*"):
        p.unlink()
    done = run_cli("--workspace", str(ws.root), "curate", "--path", str(folder), "--json")
    assert done.returncode == 0, done.stderr
    cli = json.loads(done.stdout)
    assert cli["files_reprocessed"] == in_process["files_reprocessed"] == PARALLEL_MIN_FILES + 10
    assert cli["workers"] == in_process["workers"]
    import multiprocessing
    import os

    if (os.cpu_count() or 1) >= 2 and "fork" in multiprocessing.get_all_start_methods():
        assert cli["workers"] == {"start": "fork", "processes": min(os.cpu_count(), 8)}
    assert cli["snapshot"] == in_process["snapshot"]
    # one changed file: no worker processes at all, in either
    with open(folder / "mod_0.py", "a") as fh:
        fh.write("\n\ndef added(v):\n    return v * 2\n")
    again = run_cli("--workspace", str(ws.root), "curate", "--path", str(folder), "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["workers"] == {"start": "inline", "processes": 1}
    assert json.loads(again.stdout)["files_reprocessed"] == 1


def _pieces(counter, n_files=40):
    texts = [p.read_text(encoding="utf-8") for p in sorted(STDLIB.glob("*.py"))[:n_files]]
    tricky = ["it's 'twas we'll \"don't\" I'M  x  =  0x1F;\t\t# ok?!\n", "  \n\n\n    return    {'a':  b}  \n\t\n",
              "naïve = 'café'  # 東京\n", "a\x1cb\x85c", "x = '<|endoftext|>'\n", "<|im_start|>user", "\r\n\r\n  \x0b\x0c"]
    return sorted({p for t in texts + tricky for p in counter.pieces(t)}) + tricky


def test_token_counts_by_words_equal_encoding_each_piece():
    """A GPT-2 style byte-level BPE (ByteLevel pre-tokenizer with its regex) takes the word path; every count equals
    what the tokenizer gives the piece itself, plain ASCII or not, special tokens or not."""
    from tiny_models import LLAMA_SPECIALS, _train_tokenizer

    from training.curation.samples import TokenCounter

    tok = _train_tokenizer(LLAMA_SPECIALS, 400, qwen_pretok=False)
    counter = TokenCounter(tok)
    assert counter.words is not None and counter._count_words is not None   # words counted by the BPE model
    pieces = _pieces(counter)
    want = [len(e) for e in tok.encode_batch(pieces, add_special_tokens=False)]
    assert counter.counts(pieces) == want
    assert counter.counts(pieces) == want           # from the caches the second time
    assert len(counter.word_cache) < len(pieces)     # words repeat far more than pieces


def test_other_tokenizers_encode_whole_pieces(tiny_qwen2):
    """Qwen2's own pre-tokenizer regex (and a normalizer) is not GPT-2's: its pieces are encoded whole."""
    from training.curation.samples import TokenCounter
    from training.tokenizer import load

    tok = load(str(tiny_qwen2))
    counter = TokenCounter(tok)
    assert counter.words is None
    pieces = _pieces(counter, n_files=5)
    assert counter.counts(pieces) == [len(e) for e in tok.encode_batch(pieces, add_special_tokens=False)]


def test_a_shared_prefix_counted_once_counts_what_the_whole_text_counts(tiny_qwen2):
    """Prompts share their file's context: its pieces are summed once, and the piece at the seam is cut again with
    the rest (it joins the rest's first line when pieces start at newlines, the GPT-2 style cut)."""
    from tiny_models import LLAMA_SPECIALS, _train_tokenizer

    from training.curation.samples import TokenCounter
    from training.tokenizer import load

    text = (STDLIB / "abc.py").read_text(encoding="utf-8")
    prefixes = ["# r/abc.py\n", "# r/abc.py\nimport os\nfrom x import (a,\n  b)\n\n", "class A:\n  ", "x", "\n\n",
                "<|fim_prefix|># p\n"]
    rests = ["def f(self):\n    return 1\n", "\n\ndef g(): pass", "  indented = 1\n", "", "é = 'ü'\n", text[:3000]]
    for tok in (_train_tokenizer(LLAMA_SPECIALS, 400, qwen_pretok=False), load(str(tiny_qwen2))):
        pairs = [(p, r) for p in prefixes for r in rests]
        texts, shared = [p + r for p, r in pairs], [len(p) for p, _ in pairs]
        want = TokenCounter(tok).counts(texts)
        assert TokenCounter(tok).counts(texts, shared) == want
        assert want == [sum(len(e) for e in tok.encode_batch(TokenCounter(tok).pieces(t), add_special_tokens=False))
                        for t in texts]


def test_minhashes_of_a_file_in_one_pass_equal_one_at_a_time():
    from training.curation import dedup

    text = (STDLIB / "abc.py").read_text(encoding="utf-8")
    texts = ["", "  \n\n", "x = 1\n"] + [text[i:i + 400] for i in range(0, 4000, 200)] + ["", "def f():\n  pass\n"]
    assert dedup.keys(texts) == [(dedup.exact_key(t), dedup.signature(t)) for t in texts]
    assert dedup.keys([]) == []


@pytest.mark.parametrize("category", ["agent-patterns", 'odd "name" ü', None])
def test_held_out_category_set_as_bytes_equals_encoding_again(category):
    from training.curation.curate import _JSON, _with_category

    rows = [{"id": str(i), "kind": "completion", "prompt": 'p "category": null}\n\\n', "completion": "c\u00e9",
             "language": "python", "repo": "r", "path": "a.py", "tokens": 12, "category": None} for i in range(3)]
    lines = b"".join((_JSON(r) + "\n").encode("utf-8") for r in rows)
    want = b"".join((json.dumps({**r, "category": category}, ensure_ascii=False) + "\n").encode("utf-8")
                    for r in rows)
    assert _with_category(lines, category) == want
