"""Cutting source files into units with tree-sitter: functions, methods, classes and type declarations.

Each unit is split where a model should start writing: the header (signature plus docstring, or the doc comment
above it) goes to the prompt and the body to the completion. Only top-level and class-level nodes are visited, so
the walk stays cheap on large files (function bodies are never descended into).
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate, count
from operator import add


@dataclass(frozen=True)
class LangSpec:
    comment: str
    functions: frozenset
    classes: frozenset = frozenset()
    types: frozenset = frozenset()
    wrappers: frozenset = frozenset()          # nodes whose children are the real declaration (export, decorators)
    variables: frozenset = frozenset()         # `const f = () => {}` declarations
    imports: frozenset = frozenset()
    python_docstrings: bool = False


_JS = dict(comment="//",
           functions=frozenset({"function_declaration", "generator_function_declaration", "method_definition"}),
           classes=frozenset({"class_declaration", "abstract_class_declaration"}),
           types=frozenset({"interface_declaration", "type_alias_declaration", "enum_declaration"}),
           wrappers=frozenset({"export_statement"}),
           variables=frozenset({"lexical_declaration", "variable_declaration"}),
           imports=frozenset({"import_statement"}))
SPECS = {
    "python": LangSpec(comment="#", functions=frozenset({"function_definition"}),
                       classes=frozenset({"class_definition"}), wrappers=frozenset({"decorated_definition"}),
                       imports=frozenset({"import_statement", "import_from_statement", "future_import_statement"}),
                       python_docstrings=True),
    "javascript": LangSpec(**_JS),
    "typescript": LangSpec(**_JS),
    "tsx": LangSpec(**_JS),
    "go": LangSpec(comment="//", functions=frozenset({"function_declaration", "method_declaration"}),
                   types=frozenset({"type_declaration"}), imports=frozenset({"package_clause", "import_declaration"})),
    "rust": LangSpec(comment="//", functions=frozenset({"function_item"}),
                     classes=frozenset({"impl_item", "trait_item"}),
                     types=frozenset({"struct_item", "enum_item"}), imports=frozenset({"use_declaration"})),
    "java": LangSpec(comment="//", functions=frozenset({"method_declaration", "constructor_declaration"}),
                     classes=frozenset({"class_declaration", "interface_declaration", "enum_declaration",
                                        "record_declaration"}),
                     imports=frozenset({"package_declaration", "import_declaration"})),
}
_FUNCTION_VALUES = {"arrow_function", "function_expression", "function", "generator_function"}
MAX_IMPORT_LINES = 40


@dataclass
class Unit:
    kind: str            # function, method, class, type
    name: str
    qualname: str        # Outer.inner for methods and nested classes
    start_line: int      # 1-based, inclusive, of the unit text (doc comment included)
    end_line: int
    header: str          # signature and docstring: the end of the prompt
    body: str            # the completion
    class_header: str = ""  # the enclosing class's first line, for methods
    signature: str = ""  # the declaration line itself (for category rules)


@dataclass
class ParsedFile:
    imports: str
    units: list[Unit] = field(default_factory=list)
    error: str | None = None


@lru_cache(maxsize=None)
def parser_for(language: str):
    from tree_sitter_language_pack import get_parser

    return get_parser(language)


def _name(node, src: bytes) -> str:
    n = node.child_by_field_name("name")
    if n is None and node.type == "impl_item":
        n = node.child_by_field_name("type")
    if n is None and node.type == "type_declaration" and node.named_child_count:
        n = node.named_children[0].child_by_field_name("name")
    return src[n.start_byte:n.end_byte].decode("utf-8", "replace") if n is not None else "<anonymous>"


def _line_start(src: bytes, pos: int) -> int:
    return src.rfind(b"\n", 0, pos) + 1


def _line_end(src: bytes, pos: int) -> int:
    """The index just after the newline ending the line that holds pos (or len(src))."""
    nl = src.find(b"\n", pos)
    return len(src) if nl < 0 else nl + 1


def _cut(node, src: bytes, spec: LangSpec) -> int | None:
    """Where the prompt ends and the completion begins, as a byte offset; None when there is nothing to cut."""
    body = node.child_by_field_name("body")
    if body is None:
        body = node.child_by_field_name("value")
    if body is None or body.end_byte <= body.start_byte:
        nl = src.find(b"\n", node.start_byte, node.end_byte)
        return nl + 1 if nl >= 0 else None
    start = body.start_byte
    ls = _line_start(src, start)
    if src[ls:start].strip() == b"":
        cut = ls                                   # body on its own line (Python blocks)
    elif body.end_point[0] > body.start_point[0]:
        cut = _line_end(src, start)                # `{` ends the signature line
    else:
        cut = start                                # one-liner
    if spec.python_docstrings and body.named_child_count:
        first = body.named_children[0]
        if first.type == "expression_statement" and first.named_child_count:
            first = first.named_children[0]
        if first.type in ("string", "concatenated_string"):
            cut = _line_end(src, first.end_byte - 1)
    return min(cut, node.end_byte)


class _Walker:
    def __init__(self, src: bytes, spec: LangSpec):
        self.src, self.spec = src, spec
        self.units: list[Unit] = []
        self.imports: list[str] = []
        self._newlines: list[int] | None = None

    def line_of(self, pos: int) -> int:
        """1-based line number of a byte offset."""
        if self._newlines is None:       # line k's newline: the lengths of lines 0..k plus the k newlines before
            self._newlines = list(map(add, accumulate(map(len, self.src.split(b"\n")[:-1])), count()))
        return bisect.bisect_left(self._newlines, pos) + 1

    def text(self, a: int, b: int) -> str:
        return self.src[a:b].decode("utf-8", "replace")

    def visit_container(self, node, outer: list[str], class_header: str, top: bool) -> None:
        prev = None
        for child in node.named_children:
            self.visit(child, outer, class_header, top, prev)
            prev = child

    def visit(self, node, outer, class_header, top, prev, doc_from=None) -> None:
        spec, t = self.spec, node.type
        if top and t in spec.imports:
            self.imports.append(self.text(node.start_byte, node.end_byte))
            return
        if t in spec.wrappers:
            start = doc_from if doc_from is not None else self._doc_start(node, prev)
            start = _line_start(self.src, node.start_byte) if start is None else start
            for child in node.named_children:
                if child.type in spec.functions | spec.classes | spec.types | spec.variables:
                    self.visit(child, outer, class_header, top, None, doc_from=start)
            return
        if t in spec.variables:
            for decl in node.named_children:
                value = decl.child_by_field_name("value")
                if value is not None and value.type in _FUNCTION_VALUES:
                    self.add(node, value, _name(decl, self.src), "function", outer, class_header, prev, doc_from)
            return
        if t in spec.functions:
            kind = "method" if outer else "function"
            self.add(node, node, _name(node, self.src), kind, outer, class_header, prev, doc_from)
        elif t in spec.types:
            self.add(node, node, _name(node, self.src), "type", outer, class_header, prev, doc_from)
        elif t in spec.classes:
            name = _name(node, self.src)
            body = node.child_by_field_name("body")
            self.add(node, node, name, "class", outer, class_header, prev, doc_from, stop=self._first_member(body))
            if body is not None:
                header = self.text(_line_start(self.src, node.start_byte), _line_end(self.src, node.start_byte))
                self.visit_container(body, [*outer, name], header.rstrip("\n"), top=False)

    def _doc_start(self, node, prev) -> int | None:
        """Start of a doc comment right above node (JS/TS/Go/Rust/Java style), else None."""
        if self.spec.python_docstrings or prev is None or prev.type not in ("comment", "line_comment",
                                                                            "block_comment"):
            return None
        if node.start_point[0] - prev.end_point[0] > 1:
            return None
        return _line_start(self.src, prev.start_byte)

    def _first_member(self, body) -> int | None:
        """Where a class's first method or nested class begins (its doc comment or decorators included)."""
        if body is None:
            return None
        spec, prev = self.spec, None
        members = spec.functions | spec.classes | spec.types | spec.wrappers
        for child in body.named_children:
            if child.type in members:
                doc = self._doc_start(child, prev)
                return doc if doc is not None else _line_start(self.src, child.start_byte)
            prev = child
        return None

    def add(self, decl, inner, name, kind, outer, class_header, prev, doc_from, stop=None) -> None:
        """One unit; a class's own unit stops at its first member (`stop`), which are units of their own."""
        src = self.src
        start = doc_from if doc_from is not None else self._doc_start(decl, prev)
        start = _line_start(src, decl.start_byte) if start is None else start
        cut = _cut(inner, src, self.spec)
        if cut is None or cut <= start:
            return
        end = _line_end(src, max(decl.end_byte - 1, cut))
        if stop is not None:
            if stop <= cut or not src[cut:stop].strip():
                return
            end = cut + len(src[cut:stop].rstrip()) + 1
        sig_start = _line_start(src, decl.start_byte)
        self.units.append(Unit(
            kind=kind, name=name, qualname=".".join([*outer, name]),
            start_line=self.line_of(start), end_line=self.line_of(max(end - 1, start)),
            header=self.text(start, cut), body=self.text(cut, end), class_header=class_header,
            signature=self.text(sig_start, _line_end(src, sig_start)).strip()))


def parse(text: str, language: str) -> ParsedFile:
    """The imports block and the units of one file; a file tree-sitter cannot parse at all gives an error."""
    spec = SPECS.get(language)
    if spec is None:
        return ParsedFile("", [], error=f"no unit rules for {language}")
    src = text.encode("utf-8")
    tree = parser_for(language).parse(src)
    root = tree.root_node
    walker = _Walker(src, spec)
    walker.visit_container(root, [], "", top=True)
    imports = "\n".join(walker.imports).splitlines()[:MAX_IMPORT_LINES]
    return ParsedFile("\n".join(imports), walker.units)
