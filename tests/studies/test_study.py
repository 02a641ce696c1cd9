"""Studies: arms × batch sizes × seeds as runs of one folder, resumable, taken together as mean ± std; and
every study file under experiments/ run end to end in its smallest form.

The smallest form is the file's ``quick:`` block with one seed and one epoch, at the largest of its quick
batch sizes (the fewest steps). Every arm runs: an arm is a configuration the study promises to train.
The diagnostics a file names are kept; a file that names none would take the default, all of them, which
costs most and shows nothing the other studies do not, so it runs without. Each study is also
checked for the one thing it exists to show (its rule's rates, its figure, its schedule).
"""

from __future__ import annotations

import json
import dataclasses
import math
from pathlib import Path

import pytest

from kerasbatch.reports import tables
from kerasbatch.store import Store
from kerasbatch.config.study import load_study, StudyConfig

from tests.experiment_files import EXPERIMENTS, command_of
from tests.conftest import RUN_IDS


def test_every_arm_batch_size_and_seed_is_a_run_with_its_arm_and_seed_recorded(study):
    _, result = study
    assert result.study_dir.name == "tiny-quick"
    assert sorted(r.run_id for r in result.runs) == RUN_IDS and result.ok
    store = Store.from_dir(result.study_dir)
    for run_id in RUN_IDS:
        summary = store.read_summary(run_id)
        arm, batch, seed = run_id.split("-")
        assert (summary["arm"], f"bs{summary['batch_size']}", f"s{summary['seed']}") == (arm, batch, seed)
        assert summary["epochs"] == 1  # the quick block applied
    assert store.read_summary("linear-bs256-s0")["learning_rate"] == pytest.approx(0.05 * 256 / 32)
    assert store.read_summary("none-bs256-s0")["learning_rate"] == pytest.approx(0.05)
    manifest = json.loads((result.study_dir / "study.json").read_text())
    assert manifest["kind"] == "study" and manifest["settings"]["quick"] is True
    # Shared: what every run has; what an arm changes is under its arm only.
    assert manifest["settings"]["optim"]["learning_rate"] == 0.05 and "lr_scaling" not in manifest["settings"]["optim"]
    assert manifest["settings"]["arms"] == [{"name": "none", "lr_scaling": "none"},
                                            {"name": "linear", "lr_scaling": "linear"}]
    assert result.report is not None and result.report.is_file()
    assert any(path.name == "val_accuracy_vs_batch.png" for path in result.figures)


def test_the_study_table_has_the_mean_and_spread_of_the_seeds_per_arm_and_batch_size(study):
    _, result = study
    table = result.table
    assert table[["arm", "batch_size", "n"]].values.tolist() == [
        ["none", 32, 2], ["none", 256, 2], ["linear", 32, 2], ["linear", 256, 2]]
    runs = tables.study_table(result.study_dir).set_index("run_id")
    for row in table.itertuples():
        losses = [runs.loc[f"{row.arm}-bs{row.batch_size}-s{seed}", "test_loss"] for seed in (0, 1)]
        assert row.test_loss_mean == pytest.approx(sum(losses) / 2)
        assert row.test_loss_std == pytest.approx(abs(losses[0] - losses[1]) / 2 ** 0.5)
        assert row.test_loss_std > 0  # different seeds train differently
        assert 0.1 < row.best_val_accuracy_mean <= 1
    header = result.text.splitlines()[0]
    assert "arm" in header and "best acc" in header and " ± " in result.text


def test_a_study_run_again_skips_its_finished_runs_and_redoes_an_interrupted_one(study):
    from kerasbatch.studies.study import run_study

    path, first = study
    interrupted = first.study_dir / "linear-bs32-s1" / "summary.json"
    kept = (first.study_dir / "none-bs32-s0" / "summary.json").read_text()
    interrupted.unlink()
    again = run_study(path, first.study_dir.parent, quick=True, repeats=2)
    retrained = [r.run_id for r in again.runs if not r.skipped]
    assert retrained == ["linear-bs32-s1"] and interrupted.is_file()
    assert (first.study_dir / "none-bs32-s0" / "summary.json").read_text() == kept


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
