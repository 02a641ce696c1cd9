"""Studies: arms × batch sizes × seeds as runs of one folder, resumable, taken together as mean ± std."""

from __future__ import annotations

import json

import pytest

from kerasbatch.reports import tables
from kerasbatch.cli.app import run as cli
from kerasbatch.store import Store
from kerasbatch.config.study import load_study

# Two arms × two batch sizes × two seeds of one epoch each: eight runs of a second or two.
STUDY = """\
study: tiny
dataset: digits
model: mlp
widths: [32]
epochs: 3
precision: float32
diagnostics: none
learning_rate: 0.05
batch_sizes: [256, 32]
repeats: 3
arms:
  - {name: none, lr_scaling: none}
  - {name: linear, lr_scaling: linear}
quick:
  epochs: 1
"""
RUN_IDS = sorted(f"{arm}-bs{b}-s{seed}" for arm in ("none", "linear") for b in (32, 256) for seed in (0, 1))


def call(capsys, *argv):
    code = cli([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The tiny study run once, quick, with two repeats, through the Python API."""
    from kerasbatch.studies.study import run_study

    root = tmp_path_factory.mktemp("study")
    path = root / "tiny.yaml"
    path.write_text(STUDY)
    result = run_study(load_study(path, quick=True, repeats=2), root / "runs")
    return path, result


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


def test_the_study_command_prints_the_mean_and_std_table_and_compare_shows_it_too(study, capsys):
    path, result = study
    code, out, err = call(capsys, "study", path, "--quick", "--repeats", "2", "--out", result.study_dir.parent,
                          "--quiet")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 2 + 4 and all(" ± " in line for line in lines[2:])
    assert max(len(line) for line in lines) <= 120
    code, compared, _ = call(capsys, "compare", result.study_dir)
    assert code == 0 and compared == out
    code, by_run, _ = call(capsys, "compare", result.study_dir, "--by-run")
    assert code == 0 and len(by_run.strip().splitlines()) == 2 + 8


def test_a_study_with_other_settings_in_the_same_folder_is_refused(study, capsys):
    path, result = study
    changed = path.parent / "changed.yaml"
    changed.write_text(path.read_text().replace("learning_rate: 0.05", "learning_rate: 0.1"))
    before = sorted(p.name for p in result.study_dir.iterdir())
    code, _, err = call(capsys, "study", changed, "--quick", "--repeats", "2", "--out", result.study_dir.parent)
    assert code == 2 and err.strip().startswith("error: ") and "learning_rate" in err
    assert sorted(p.name for p in result.study_dir.iterdir()) == before


@pytest.mark.parametrize("edit, message", [
    (lambda s: s + "batchsizes: [8]\n", "unknown setting 'batchsizes'"),
    (lambda s: s.replace("{name: none, lr_scaling: none}", "{lr_scaling: none}"), "arms[0] needs a name"),
    (lambda s: s.replace("name: linear,", "name: none,"), "arms[1].name repeats the name of an earlier arm"),
    (lambda s: s.replace("lr_scaling: linear}", "lr_scaling: cubic}"), "arm 'linear': lr_scaling must be one of"),
    (lambda s: s.replace("lr_scaling: linear}", "lr_scaling: linear, warmup: 2}"), "arm 'linear': unknown setting"),
    (lambda s: s.replace("epochs: 1", "epochs: 0"), "epochs must be a positive integer"),
    (lambda s: s.replace("repeats: 3", "repeats: -1"), "repeats must be a positive integer"),
])
def test_a_bad_study_file_is_one_error_line_and_writes_nothing(tmp_path, capsys, edit, message):
    path = tmp_path / "bad.yaml"
    path.write_text(edit(STUDY))
    out = tmp_path / "runs"
    code, _, err = call(capsys, "study", path, "--quick", "--repeats", "2", "--out", out)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err
    assert not out.exists()


def test_export_best_takes_the_best_seed_of_the_best_mean_setting(study, tmp_path, capsys):
    _, result = study
    runs = tables.study_table(result.study_dir)
    means = runs.groupby(["arm", "batch_size"], sort=False)["best_val_accuracy"].mean()
    arm, batch_size = means.idxmax()
    setting = runs[(runs["arm"] == arm) & (runs["batch_size"] == batch_size)]
    expected = setting.loc[setting["best_val_accuracy"].idxmax(), "run_id"]
    code, out, err = call(capsys, "export", result.study_dir, "--best", "--to", tmp_path / "best")
    assert code == 0, err
    assert out.strip().startswith(f"exported {result.study_dir / expected} to")
    card = json.loads((tmp_path / "best" / "model_card.json").read_text())
    assert card["run_id"] == expected and card["study_run"] == {"arm": arm, "seed": int(expected[-1])}


def test_study_help_does_not_import_tensorflow():
    import subprocess
    import sys

    probe = ("import sys; from kerasbatch.cli.app import run; code = run(['study', '--help']); "
             "print(code, [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')])")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "0 []"


def test_repeats_are_the_files_for_the_full_study_two_for_the_quick_one_unless_told(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(STUDY)
    assert load_study(path).repeats == 3 and load_study(path).seeds == (0, 1, 2)
    assert load_study(path, quick=True).repeats == 2
    assert load_study(path, quick=True, repeats=4).repeats == 4
    path.write_text(STUDY.replace("epochs: 1", "epochs: 1\n  repeats: 5") + "seed: 10\n")
    assert load_study(path, quick=True).seeds == (10, 11, 12, 13, 14)
