"""Every settings dataclass and its validation; TensorFlow-free, at the bottom of the package."""

from kerasbatch.config.commands import OBJECTIVES, TUNERS, Objective, StoreConfig, SweepConfig, TuneConfig
from kerasbatch.config.learner import ProfileConfig, SuggestConfig
from kerasbatch.config.run import DataConfig, ModelConfig, OptimConfig, RunConfig
from kerasbatch.config.study import Arm, StudyConfig, StudyRun, load_study

__all__ = ["OBJECTIVES", "TUNERS", "Arm", "DataConfig", "ModelConfig", "Objective", "OptimConfig", "ProfileConfig",
           "RunConfig", "StoreConfig", "StudyConfig", "StudyRun", "SuggestConfig", "SweepConfig", "TuneConfig",
           "load_study"]
