import pytest

from conductor.agents.planner import Plan, PlanError, PlanStep, StepStatus, plan_from_dict


def steps(*specs):
    return [PlanStep(id=i, action=a, depends_on=tuple(d)) for i, a, d in specs]


def test_order_respects_dependencies():
    plan = Plan("ship it", steps(("test", "tool:pytest", ["build"]), ("build", "tool:make", []),
                                 ("deploy", "agent:deploy.request", ["test", "build"])))
    assert [s.id for s in plan.order()] == ["build", "test", "deploy"]
    assert [s.id for s in plan.runnable()] == ["build"]


def test_cycles_unknown_steps_and_bad_actions_are_refused():
    with pytest.raises(PlanError, match="cycle"):
        Plan("loop", steps(("a", "tool:x", ["b"]), ("b", "tool:y", ["a"])))
    with pytest.raises(PlanError, match="unknown steps"):
        Plan("typo", steps(("a", "tool:x", ["nope"])))
    with pytest.raises(PlanError, match="not tool"):
        Plan("bad", steps(("a", "shell:rm", [])))


def test_a_failed_step_skips_what_depends_on_it():
    plan = Plan("pipeline", steps(("fetch", "tool:http_get", []), ("parse", "tool:parse", ["fetch"]),
                                  ("store", "tool:kv_put", ["parse"]), ("notify", "agent:notify", [])))
    plan.steps[0].status = StepStatus.FAILED
    assert plan.skip_dependents(plan.steps[0]) == ["parse", "store"]
    assert [s.id for s in plan.runnable()] == ["notify"]
    assert not plan.finished and [s.id for s in plan.failed] == ["fetch"]


def test_plan_from_dict():
    plan = plan_from_dict({"goal": "sum", "steps": [{"id": 1, "action": "tool:add", "arguments": {"a": 1}}]})
    assert plan.steps[0].id == "1" and plan.steps[0].arguments == {"a": 1}
    assert plan.to_dict()["steps"][0]["status"] == "pending"
