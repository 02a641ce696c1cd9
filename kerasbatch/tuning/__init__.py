"""KerasTuner search over batch size and learning rate: the hypermodel, the tuners, chief/worker."""
