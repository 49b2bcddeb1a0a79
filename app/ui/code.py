"""Code views with tree-sitter highlighting from the grammars of tree-sitter-language-pack.

Two things bit here (tree-sitter 0.26 with tree-sitter-language-pack 0.13):
- textual's bundled highlight queries do not all compile against these grammar versions (python's has an
  "impossible pattern"), so app/ui/highlights/ holds textual's queries filtered to the patterns these grammars
  accept (regenerate with `python -m app.ui.code` after a grammar upgrade);
- freeing a compiled Query object corrupts memory and a later grammar load segfaults. TextArea compiles the query
  again on every load_text, so the compiled queries are cached here for the life of the process and never freed.
"""
from __future__ import annotations

from pathlib import Path

from textual.widgets import TextArea

HIGHLIGHTS = Path(__file__).parent / "highlights"
_ALIASES = {"py": "python", "js": "javascript", "sh": "bash", "yml": "yaml"}
_GRAMMARS: dict = {}
_QUERIES: dict = {}  # (language name, query text) -> Query, kept alive on purpose (see the module docstring)
_PATCHED = False


def _keep_queries_alive() -> None:
    global _PATCHED
    if _PATCHED:
        return
    from textual.document._syntax_aware_document import SyntaxAwareDocument
    from tree_sitter import Query

    def prepare_query(self, query: str):
        key = (id(self.language), query)
        if key not in _QUERIES:
            _QUERIES[key] = Query(self.language, query)
        return _QUERIES[key]

    SyntaxAwareDocument.prepare_query = prepare_query
    _PATCHED = True


def grammar(name: str):
    """The language pack's grammar for `name`, loaded once and kept."""
    if name not in _GRAMMARS:
        from tree_sitter_language_pack import get_language

        _GRAMMARS[name] = get_language(name)
    return _GRAMMARS[name]


def ensure_language(area: TextArea, language: str | None) -> str | None:
    """Register `language` on `area` when there is a grammar and a query for it; returns the name (or None)."""
    if not language:
        return None
    name = _ALIASES.get(language.lower(), language.lower())
    if name in area._languages:  # registered on this area before
        return name
    query = HIGHLIGHTS / f"{name}.scm"
    if not query.is_file():
        return None
    try:
        _keep_queries_alive()
        area.register_language(name, grammar(name), query.read_text())
    except Exception:  # no grammar for it: plain text rather than a failure
        return None
    return name


def show_code(area: TextArea, text: str, language: str | None) -> None:
    name = ensure_language(area, language)
    if area.language != name:
        area.language = name
    area.load_text(text)


def split_patterns(source: str) -> list[str]:
    """The top-level patterns of a query file (a pattern starts at column 0 outside any bracket)."""
    patterns: list[str] = []
    current: list[str] = []
    depth = 0
    for line in source.splitlines():
        if depth == 0 and line[:1] not in ("", " ", "\t", ";") and current:
            patterns.append("\n".join(current))
            current = []
        if line.strip().startswith(";"):
            continue
        current.append(line)
        in_string, prev = False, ""
        for ch in line:
            if ch == '"' and prev != "\\":
                in_string = not in_string
            elif not in_string:
                if ch == ";":
                    break
                depth += ch in "(["
                depth -= ch in ")]"
            prev = ch
    if current:
        patterns.append("\n".join(current))
    return [p for p in patterns if p.strip()]


def _regenerate(name: str) -> None:
    """Write textual's query for `name`, filtered to what the grammar accepts (run in its own process)."""
    import textual
    from tree_sitter import Query

    source = (Path(textual.__file__).parent / "tree-sitter" / "highlights" / f"{name}.scm").read_text()
    kept, compiled = [], []
    for pattern in split_patterns(source):
        try:
            compiled.append(Query(grammar(name), pattern))  # kept alive: see the module docstring
        except Exception:
            continue
        kept.append(pattern)
    (HIGHLIGHTS / f"{name}.scm").write_text("\n".join(kept) + "\n")
    import os

    os._exit(0)  # skip freeing the queries


if __name__ == "__main__":
    import subprocess
    import sys

    for file in sorted(HIGHLIGHTS.glob("*.scm")):
        subprocess.run([sys.executable, "-c", f"from app.ui.code import _regenerate; _regenerate({file.stem!r})"],
                       check=True)
