"""retail_lift.model_gate: heavy table functions take turns in a process (dbt runs Python models in threads)."""

import threading
import time

import pytest

from retail_lift import model_gate
from retail_lift.model_gate import ENV, heavy, heavy_models_at_once


def _run_side_by_side(fn, n_threads: int = 3) -> None:
    threads = [threading.Thread(target=fn) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads)


def _tracked(hold: float, together: int = 1):
    """A heavy function that, once in, waits (up to 5 s) until ``together`` calls are in, then ``hold`` s: a busy
    machine's late thread start cannot hide an overlap the gate allows."""
    state = {"now": 0, "max": 0}
    lock = threading.Lock()

    @heavy
    def work():
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        deadline = time.monotonic() + 5
        while state["now"] < together and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(hold)
        with lock:
            state["now"] -= 1
        return "done"

    return work, state


@pytest.mark.parametrize(("setting", "expected_max"), [("", 1), ("1", 1), ("2", 2), ("0", 3)])
def test_at_most_the_setting_runs_at_once(monkeypatch, setting, expected_max):
    monkeypatch.setenv(ENV, setting)
    work, state = _tracked(0.3, together=expected_max)
    _run_side_by_side(work)
    assert state["max"] == expected_max and state["now"] == 0


def test_a_heavy_function_calling_another_does_not_wait_for_itself(monkeypatch):
    monkeypatch.setenv(ENV, "1")

    @heavy
    def inner():
        return 41

    @heavy
    def outer():
        return inner() + 1

    result = []
    t = threading.Thread(target=lambda: result.append(outer()))
    t.start()
    t.join(timeout=10)
    assert result == [42]
    # and the gate is free again: another thread gets its turn at once
    t2 = threading.Thread(target=lambda: result.append(inner()))
    t2.start()
    t2.join(timeout=10)
    assert result == [42, 41]


def test_a_waiting_model_says_so(monkeypatch, caplog):
    monkeypatch.setenv(ENV, "1")
    started = threading.Event()
    release = threading.Event()

    @heavy
    def first():
        started.set()
        release.wait(10)

    @heavy
    def second():
        return "ran"

    t = threading.Thread(target=first)
    t.start()
    started.wait(10)
    out = []
    t2 = threading.Thread(target=lambda: out.append(second()))
    caplog.set_level("INFO")
    t2.start()
    time.sleep(0.2)
    assert out == []  # waiting for its turn
    release.set()
    t.join(10)
    t2.join(10)
    assert out == ["ran"]
    printed = caplog.text
    assert f"second waits for another heavy model to finish ({ENV}=1)" in printed
    assert "second starts after waiting" in printed


def test_an_exception_gives_the_turn_back(monkeypatch):
    monkeypatch.setenv(ENV, "1")

    @heavy
    def fails():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fails()
    work, state = _tracked(0.0)
    _run_side_by_side(work, 2)
    assert state["max"] == 1


@pytest.mark.parametrize("bad", ["-1", "two", "1.5"])
def test_a_bad_setting_is_named(monkeypatch, bad):
    monkeypatch.setenv(ENV, bad)
    with pytest.raises(ValueError, match=rf"{ENV} must be a whole number, 0 \(no limit\) or more, got '{bad}'"):
        heavy_models_at_once()


def test_the_models_that_train_or_solve_at_scale_are_heavy():
    """Every registered (training) model's table function, the plan and its frontier, the bandit models that fit
    or evaluate, and the two truth evaluations that refit at scale."""
    import retail_lift.tables as tables
    from retail_lift.evaluation import evaluate_uplift_against_truth, promotion_plan_vs_truth, uplift_limits
    from retail_lift.tables import bandit, campaign

    registered = [getattr(__import__(f"retail_lift.tables.{_area(name)}", fromlist=[name]), name)
                  for name in tables.REGISTERED_MODELS]
    others = [campaign.ml_promotion_plan, campaign.ml_promotion_plan_frontier, bandit.ml_bandit_holdout_probabilities,
              bandit.ml_bandit_policy_evaluation, bandit.ml_bandit_published_policy, promotion_plan_vs_truth,
              evaluate_uplift_against_truth, uplift_limits]
    for fn in registered + others:
        assert getattr(fn, "is_heavy", False), fn.__name__
    assert not getattr(campaign.ml_campaign_fatigue, "is_heavy", False)
    assert model_gate.DEFAULT_AT_ONCE == 1


def _area(model: str) -> str:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "python_models" / "ml"
    (path,) = root.glob(f"*/{model}.py")
    return path.parent.name
