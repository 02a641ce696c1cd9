"""Many runs of one study: a sweep over batch sizes, a study file's arms and seeds, their progress."""

from kerasbatch.studies.progress import StudyProgress
from kerasbatch.studies.study import StudyResult, run_study

__all__ = ["StudyProgress", "StudyResult", "run_study"]
