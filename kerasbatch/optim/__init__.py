"""Learning-rate schedules, optimizers and the optimizer's state."""
