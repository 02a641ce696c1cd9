"""Study files: how many repeats the full and the quick form run."""

from __future__ import annotations

from kerasbatch.config.study import load_study

from tests.conftest import STUDY


def test_repeats_are_the_files_for_the_full_study_two_for_the_quick_one_unless_told(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(STUDY)
    assert load_study(path).repeats == 3 and load_study(path).seeds == (0, 1, 2)
    assert load_study(path, quick=True).repeats == 2
    assert load_study(path, quick=True, repeats=4).repeats == 4
    path.write_text(STUDY.replace("epochs: 1", "epochs: 1\n  repeats: 5") + "seed: 10\n")
    assert load_study(path, quick=True).seeds == (10, 11, 12, 13, 14)
