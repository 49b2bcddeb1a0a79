import pytest

from conductor.agents.memory import Turn, WorkingMemory, naive_summary, rough_tokens


def test_turns_stay_within_the_budget_and_fold_into_the_summary():
    memory = WorkingMemory(budget_tokens=100, keep_last=2)
    for i in range(20):
        memory.add("user" if i % 2 == 0 else "agent", f"message number {i} " + "word " * 10)
    assert memory.used_tokens <= 100 or len(memory) == 2
    assert memory.evicted > 0 and "message number 0" in memory.summary or memory.summary
    assert memory.last("agent").text.startswith("message number 19")


def test_pinned_facts_survive_eviction_and_render_first():
    memory = WorkingMemory(budget_tokens=80, keep_last=1)
    memory.pin("goal", "book a table for four")
    memory.extend([("user", "hello " * 20), ("agent", "hi " * 20), ("user", "friday at eight")])
    text = memory.render()
    assert text.startswith("Facts:\n- goal: book a table for four")
    assert text.endswith("user: friday at eight")
    assert memory.unpin("goal") and not memory.unpin("goal")


def test_snapshot_round_trip():
    memory = WorkingMemory(budget_tokens=200)
    memory.pin("user", "Ada")
    memory.extend([("user", "what is a monad?"), ("agent", "a monoid in the category of endofunctors")])
    restored = WorkingMemory.restore(memory.snapshot(), budget_tokens=200)
    assert restored.render() == memory.render()


def test_roles_and_budgets_are_checked():
    with pytest.raises(ValueError):
        Turn("robot", "beep")
    with pytest.raises(ValueError):
        WorkingMemory(budget_tokens=10)
    assert rough_tokens("") == 1 and rough_tokens("abcdefgh") == 2
    assert naive_summary([Turn("user", "first line\nsecond line")]) == "user: first line"
