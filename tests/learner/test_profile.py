"""The hardware profile: measured sizes, sizes that do not fit, and the largest batch that fits."""

import json
import time

from kerasbatch.config.run import DataConfig, ModelConfig, RunConfig
from kerasbatch.config.learner import ProfileConfig
from kerasbatch.learner.profile import profile
from kerasbatch.training.step_time import read_profile
from kerasbatch.store import Store


DIGITS = RunConfig(data=DataConfig(dataset="digits"), model=ModelConfig(name="logreg"), precision="float32")


def test_sizes_that_do_not_fit_are_oom_the_others_complete_and_max_bisects_between(tmp_path):
    run = RunConfig(data=DataConfig(dataset="digits"), model=ModelConfig(name="tests.user_models:fails_at_64_and_256"),
                    precision="float32")
    lines = []
    result = profile(ProfileConfig(run=run, batch_sizes=(32, 64, 128, 256), find_max=True, warmup_steps=1,
                                   timed_steps=3), Store(tmp_path, "p"), progress=lines.append)
    status = {r["batch_size"]: r["status"] for r in result.rows}
    # 64 is killed, 256 raises out-of-memory; 128 fits, so bisection on multiples of 8 tries 192, 224,
    # 240 and 248, which all fit.
    assert status == {32: "ok", 64: "oom", 128: "ok", 192: "ok", 224: "ok", 240: "ok", 248: "ok", 256: "oom"}
    assert result.max_batch_size == 248 and result.max_reason == "256 does not fit"
    assert all(r["error"] for r in result.rows if r["status"] == "oom")
    assert result.children == 3  # a fresh child after each size that did not fit
    assert all(r["samples_per_second"] > 0 and r["step_time_p90"] >= r["step_time_median"] > 0
               for r in result.rows if r["status"] == "ok")
    assert lines[:2] == [lines[0], "batch 64: oom"] and lines[0].startswith("batch 32: ") and len(lines) == 8
    saved = json.loads((tmp_path / "p" / "profile.json").read_text())
    assert [r["batch_size"] for r in saved["rows"]] == sorted(status)
    assert read_profile(tmp_path / "p").rows == result.rows


def test_find_max_doubles_then_stops_at_the_training_set(tmp_path):
    result = profile(ProfileConfig(run=DIGITS, batch_sizes=(256,), find_max=True, warmup_steps=1, timed_steps=2))
    # digits: 1797 examples, 20 % test and 10 % of the rest for validation leave 1294 to train on.
    assert [r["batch_size"] for r in result.rows] == [256, 512, 1024, 1294]
    assert result.max_batch_size == 1294 and "1294 examples" in result.max_reason
    assert result.children == 1 and result.startup_seconds > 0


def test_a_scan_ends_where_the_caller_has_enough_and_skips_the_search_for_the_largest(tmp_path):
    asked = []

    def enough(rows):
        asked.append([r["batch_size"] for r in rows])
        return rows[-1]["batch_size"] >= 64

    result = profile(ProfileConfig(run=DIGITS, batch_sizes=(32, 64, 128, 256), find_max=True, warmup_steps=1,
                                   timed_steps=2), enough=enough)
    assert [r["batch_size"] for r in result.rows] == [32, 64]
    assert asked == [[32], [32, 64]]
    assert result.max_batch_size is None and result.max_reason == "no size above 64 can be faster"


def test_millisecond_steps_are_timed_for_at_least_the_seconds_asked():
    from types import SimpleNamespace

    from kerasbatch.learner.profile import _enough

    def steps_until_stopped(callback, step_seconds):
        callback.set_model(SimpleNamespace(stop_training=False))
        for step in range(callback.most + 5):
            time.sleep(step_seconds)
            callback.on_train_batch_end(step)
            if callback.model.stop_training:
                return step + 1
        return None

    # Steps of at least 1 ms: 20 timed steps take about 20 ms, so it times more of them to reach 0.1 s
    # (after 5 warm-up steps), at most 100.
    callback = _enough(5, 20, 0.1)
    steps = steps_until_stopped(callback, 0.001)
    assert 5 + 20 < steps <= 5 + 101 and time.perf_counter() - callback.began >= 0.1
    # Without a time floor, exactly the warm-up and the timed steps.
    assert steps_until_stopped(_enough(5, 20, 0.0), 0.001) == 25
