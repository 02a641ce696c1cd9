"""Small KerasTuner searches on the dots set, and reading what they left in the study folder."""

import json
import os
import socket
from pathlib import Path

from kerasbatch.config.commands import TuneConfig
from kerasbatch.store import SUGGESTION, write_json
from kerasbatch.learner.suggest import Suggestion

from tests.conftest import dots_run


ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(ROOT)}
for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
    ENV.pop(name, None)


def search(**overrides) -> TuneConfig:
    fields = {"run": dots_run(diagnostics=()), "tuner": "random", "max_trials": 3, "batch_sizes": (16, 32, 64),
              "lr_range": (0.01, 0.5)}
    fields.update(overrides)
    return TuneConfig(**fields)


def summaries(study_dir: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(study_dir.glob("trial_*/summary.json"))}


def mtimes(study_dir: Path) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in study_dir.glob("trial_*/summary.json")}


def write_suggestion(folder: Path, batch_size: int, learning_rate: float) -> Path:
    """The study folder of a ``kerasbatch suggest`` that chose ``batch_size`` at ``learning_rate``."""
    suggestion = Suggestion(batch_size=batch_size, learning_rate=learning_rate, noise_scale=200.0,
                            noise_scale_interval=(150.0, 260.0), batch_size_interval=(32, 128),
                            predicted_speedup=2.0, baseline_batch=32, candidates=[])
    folder.mkdir(parents=True)
    write_json(folder / SUGGESTION, suggestion.to_dict())
    return folder


def free_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])
