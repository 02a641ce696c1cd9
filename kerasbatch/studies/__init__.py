"""Many runs of one study: a sweep over batch sizes, a study file's arms and seeds, their progress."""
