"""Every study file under experiments/ runs end to end in its smallest form and writes its report.

The smallest form is the file's ``quick:`` block with one seed and one epoch, at the largest of its quick
batch sizes (the fewest steps). Every arm runs: an arm is a configuration the study promises to train.
The diagnostics a file names are kept; a file that names none would take the default, all of them, which
costs most and shows nothing the other studies do not, so it runs without. Each study is also
checked for the one thing it exists to show (its rule's rates, its figure, its schedule).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest

from kerasbatch.store import Store
from kerasbatch.config.study import StudyConfig, load_study
from tests.cli.test_app import EXPERIMENTS, command_of

STUDY_FOLDER = EXPERIMENTS[0].parent
STUDIES = [path for path in EXPERIMENTS if command_of(path) == "study"]
ISSUE_STUDIES = ("batch_sweep", "lr_scaling", "sgd_vs_adam", "gradient_norm", "dots", "resnet32_cifar10",
                 "suggest_adaptive")


def smallest(path: Path) -> StudyConfig:
    """The file's quick form, shrunk to one seed, one epoch and its largest batch size(s)."""
    quick = load_study(path, quick=True, repeats=1)
    settings = {"diagnostics": "none", **quick.settings, "epochs": 1}
    return dataclasses.replace(quick, settings=settings, batch_sizes=quick.batch_sizes[-1:])


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    return tmp_path_factory.mktemp("studies")


def summaries(result) -> dict[str, dict]:
    store = Store.from_dir(result.study_dir)
    return {run.run_id: store.read_summary(run.run_id) for run in result.runs}


def figure_names(result) -> set[str]:
    return {path.name for path in result.figures}


def test_every_study_the_issue_names_has_a_file():
    assert {path.stem for path in STUDIES} >= set(ISSUE_STUDIES)


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.stem)
def test_a_study_file_runs_in_its_smallest_form_and_writes_its_report(path, out):
    from kerasbatch.studies.study import run_study

    config = smallest(path)
    result = run_study(config, out)
    assert result.ok, [(run.run_id, run.status) for run in result.runs]
    assert result.report is not None and result.report.is_file()
    assert "val_accuracy_vs_batch.png" in figure_names(result)
    expected = [[arm.name, size] for arm in config.arms for size in config.batch_sizes]
    assert result.table[["arm", "batch_size"]].values.tolist() == expected
    ran = summaries(result)
    assert all(summary["epochs"] == 1 and 0 < summary["best_val_accuracy"] <= 1 for summary in ran.values())
    CHECKS.get(path.stem, lambda *_: None)(config, result, ran)


def rates_follow_each_arms_rule(config: StudyConfig, result, ran: dict[str, dict]) -> None:
    """Each arm's peak rate at batch B is what its name says, from 0.01 at batch 32."""
    (size,) = config.batch_sizes
    ratio = size / 32
    rules = {"none": 1.0, "linear": ratio, "linear+warmup": ratio, "sqrt": math.sqrt(ratio),
             "noise": (1 + 100 / 32) / (1 + 100 / size)}
    assert sorted(arm.name for arm in config.arms) == sorted(rules)
    for arm, factor in rules.items():
        assert ran[f"{arm}-bs{size}-s0"]["learning_rate"] == pytest.approx(0.01 * factor)


def adam_and_sgd_both_record_their_distance(config: StudyConfig, result, ran: dict[str, dict]) -> None:
    assert {summary["optimizer"] for summary in ran.values()} == {"sgd", "adam"}
    assert "weight_distance.png" in figure_names(result)
    assert all(summary["weight_distance"] > 0 for summary in ran.values())


def gradient_norm_and_noise_scale_are_measured(config: StudyConfig, result, ran: dict[str, dict]) -> None:
    assert "grad_norm_vs_batch.png" in figure_names(result)
    assert all(summary["grad_norm_mean"] > 0 for summary in ran.values())


def the_decision_boundary_is_drawn(config: StudyConfig, result, ran: dict[str, dict]) -> None:
    assert load_study(STUDY_FOLDER / "dots.yaml", quick=True).batch_sizes == (32, 1024)
    assert "decision_boundary.png" in figure_names(result)


def the_adaptive_arm_runs_the_adaptive_schedule(config: StudyConfig, result, ran: dict[str, dict]) -> None:
    (size,) = config.batch_sizes
    assert ran[f"adaptive-bs{size}-s0"]["batch_schedule"] == "adaptive"
    assert ran[f"fixed-bs{size}-s0"].get("batch_schedule", "fixed") == "fixed"


CHECKS = {
    "lr_scaling": rates_follow_each_arms_rule,
    "sgd_vs_adam": adam_and_sgd_both_record_their_distance,
    "gradient_norm": gradient_norm_and_noise_scale_are_measured,
    "dots": the_decision_boundary_is_drawn,
    "suggest_adaptive": the_adaptive_arm_runs_the_adaptive_schedule,
}
