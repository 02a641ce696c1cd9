"""Suggest: the batch size (and its learning rate) that reaches the target soonest on this machine.

The learner has two halves (McCandlish et al. 2018; Qiao et al. 2021); the arithmetic that joins them
is :mod:`kerasbatch.learner.predict`:

1. **statistics** — train from scratch at the base batch ``B0`` with the configured rate and measure the
   gradient noise scale ``B_noise`` with the diagnostics' estimator (for Adam and AdamW, of the gradients
   divided by Adam's second moment, as AdaptDL does). It grows as the loss falls, so the value quoted is
   the one measured as the goal is approached. The goal is the target; when the run stops short of it
   (its validation accuracy stops rising, or the budget is spent), the best accuracy it reached.
2. **hardware** — :mod:`kerasbatch.learner.profile` measures the step time ``t(B)`` of candidate sizes
   (its child process starts while the measuring run trains).

Steps to the goal follow ``S(B) = S_min (1 + B_noise/B)`` (:mod:`kerasbatch.learner.predict`, one noise
scale or piecewise over the base run), so the time is ``T(B) = S(B) t(B)``, and the suggestion is the
``B`` that minimises it. Its learning rate follows the noise-scale rule
``lr(B) = lr0 (1 + B_noise/B0) / (1 + B_noise/B)`` for SGD (§2.2 there) and the Adam rule of Li et al.
2024 for Adam and AdamW (:mod:`kerasbatch.config.scaling`).

Every answer says how sure it is (:attr:`Suggestion.confidence`): whether the target was reached, the
noise scale's relative error against ``max_relative_error``, and the sizes its interval allows. An
uncertain answer takes the smallest of those sizes: the one whose cost, if the noise scale is smaller
than measured, is the least.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kerasbatch.config.learner import SuggestConfig
from kerasbatch.config.scaling import adam_or_noise
from kerasbatch.config.run import RunConfig
from kerasbatch.errors import KerasbatchError
from kerasbatch.learner.confidence import describe_confidence, judge, take_smallest_defensible
from kerasbatch.learner.predict import StepsModel, candidate_sizes, larger_sizes_cannot_help, predict, steps_model
from kerasbatch.noise.window import goal_epoch, noise_in_window, stretches, trajectory
from kerasbatch.store import SUGGESTION, Store, make_dir, write_json

Progress = Callable[[str], None]
Z95 = 1.96  # two-sided 95 % normal quantile


@dataclass
class NoiseMeasurement:
    """The noise scale measured while training at ``batch_size``, with its uncertainty and history."""

    noise_scale: float
    relative_error: float
    batch_size: int
    micro_batch_size: int
    window: tuple[int, int]  # the epochs (from 1, inclusive) the value is averaged over
    trajectory: list[float]  # per-epoch noise scale, in order
    steps_to_target: int | None
    seconds: float
    target_reached: bool = False
    goal_epoch: int | None = None  # the target's epoch, or the first at the best accuracy
    goal_accuracy: float | None = None
    steps_to_goal: int | None = None
    stretches: list[tuple[float, float]] = field(default_factory=list)  # (epochs, B_noise) up to the goal
    preconditioned: bool = False  # the gradients were divided by Adam's second moment
    stopped_because: str | None = None

    @property
    def interval(self) -> tuple[float, float]:
        """An approximate 95 % interval: ``B_noise ± 1.96 standard errors`` (the lower end kept positive)."""
        spread = Z95 * self.relative_error * self.noise_scale
        return max(self.noise_scale - spread, self.noise_scale * 0.05), self.noise_scale + spread


@dataclass
class Suggestion:
    """The learner's answer; ``candidates`` is the whole predicted curve, one dict per size."""

    batch_size: int
    learning_rate: float
    noise_scale: float
    noise_scale_interval: tuple[float, float]
    batch_size_interval: tuple[int, int]
    predicted_speedup: float
    baseline_batch: int
    candidates: list[dict[str, Any]]
    measurement: dict[str, Any] = field(default_factory=dict)
    cost_seconds: float = math.nan
    predicted_seconds_to_target: float | None = None
    measured: dict[str, Any] | None = None
    confidence: dict[str, Any] = field(default_factory=dict)
    lr_scaling: str = "noise"
    cost: dict[str, float] = field(default_factory=dict)  # seconds: measuring, profiling (cost_seconds in all)

    @property
    def confident(self) -> bool:
        return self.confidence.get("level") == "confident"

    @property
    def table(self):
        """The predicted curve as a pandas DataFrame, one row per candidate size."""
        import pandas as pd

        return pd.DataFrame(self.candidates)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# -- the learner: measure, profile, predict --------------------------------------------------------


def suggest(config: SuggestConfig, store: Store, *, progress: Progress | None = None,
            verbose: int = 0) -> Suggestion:
    """Measure the noise scale, profile the candidates, choose; write ``suggestion.json`` in the study.

    With ``config.run_suggestion`` it then trains at the suggestion and records the measured time to
    the target beside the predicted one.
    """
    from kerasbatch.learner import profile as profiler
    from kerasbatch.training import train

    started = time.perf_counter()
    base = config.run.optim.base_batch
    dataset = train.validate(config.run.with_batch_size(base))
    sizes = list(config.candidates) or candidate_sizes(dataset.n_train, config.baseline_batch)
    profile_config = profiler.ProfileConfig(run=config.run, batch_sizes=tuple(sizes), find_max=not config.candidates)
    prober = profiler.Prober(profile_config, progress).start()  # its start-up overlaps the measuring run
    try:
        _say(progress, f"measuring the gradient noise scale at batch {base} (budget {config.budget_seconds:g} s) …")
        measured = measure_noise(config, store, verbose=verbose)
        measuring = time.perf_counter() - started
        low, high = measured.interval
        _say(progress, f"noise scale {measured.noise_scale:.4g} (95% interval {low:.4g}–{high:.4g}), epochs "
                       f"{measured.window[0]}–{measured.window[1]}; the run {measured.stopped_because}")
        model = steps_model(measured.noise_scale, measured.stretches, base, config.prediction)
        _say(progress, f"profiling up to {len(sizes)} batch sizes, ascending, until larger ones cannot help …")
        measured_profile = profiler.profile(profile_config, store, progress=progress, prober=prober,
                                            enough=_enough(model.scaled(high / measured.noise_scale),
                                                           config.baseline_batch))
    finally:
        prober.close()
    step_times = measured_profile.step_times()
    if measured_profile.max_batch_size and not config.candidates:
        step_times = {b: t for b, t in step_times.items() if b <= measured_profile.max_batch_size}
    rule = adam_or_noise(config.run.optim.optimizer)
    choice = predict(measured.noise_scale, measured.interval, step_times, base_batch=base,
                     base_lr=config.run.optim.learning_rate, baseline_batch=config.baseline_batch,
                     stretches=measured.stretches, prediction=config.prediction, rule=rule,
                     tolerance=config.tolerance)
    confidence = judge(config, measured, choice["batch_size_interval"], dataset.n_train)
    if confidence["level"] != "confident":
        choice = take_smallest_defensible(choice)
    suggestion = Suggestion(noise_scale=measured.noise_scale, noise_scale_interval=measured.interval,
                            baseline_batch=config.baseline_batch, measurement=dataclasses.asdict(measured),
                            confidence=confidence, lr_scaling=rule, **choice)
    steps = measured.steps_to_goal
    if steps:
        suggestion.predicted_seconds_to_target = (steps * model.factor(suggestion.batch_size)
                                                  * step_times[suggestion.batch_size])
    suggestion.cost_seconds = time.perf_counter() - started
    suggestion.cost = {"measuring": measuring, "profiling": suggestion.cost_seconds - measuring,
                       "profile_startup": measured_profile.startup_seconds}
    _say(progress, describe_confidence(suggestion))
    if config.run_suggestion:
        suggestion.measured = _run_suggestion(config, suggestion, store, verbose)
    make_dir(store.study_dir)
    write_json(store.study_dir / SUGGESTION, suggestion.to_dict())
    return suggestion


def suggested_config(config: SuggestConfig, suggestion: Suggestion) -> RunConfig:
    """``config.run`` at the suggested batch, its rate set by the noise-scale (SGD) or Adam rule."""
    optim = dataclasses.replace(config.run.optim, lr_scaling=adam_or_noise(config.run.optim.optimizer),
                                noise_scale=suggestion.noise_scale)
    return dataclasses.replace(config.run, batch_size=suggestion.batch_size, optim=optim)


def measure_noise(config: SuggestConfig, store: Store, *, verbose: int = 0) -> NoiseMeasurement:
    """Train from scratch at the base batch, measuring the noise scale until it is known well enough."""
    from kerasbatch.data import datasets as data
    from kerasbatch.training import train
    from kerasbatch.callbacks.gradient_noise import GradientNoise, probe_batches
    from kerasbatch.callbacks.noise_watch import NoiseWatch

    run = config.run.with_batch_size(config.run.optim.base_batch)
    dataset = data.load(run.data)
    steps_per_epoch = dataset.n_train // run.batch_size
    # Several measurements an epoch, so that the error bar has samples to come from.
    every = max(1, min(run.diagnostics_every, steps_per_epoch // 8))
    # Stopped at the step that reaches the target (evaluated eight times an epoch: an epoch's end would
    # overshoot it by half an epoch on average, the measuring run's largest cost), else by the watch: a
    # plateau, the budget, or (without a target) an error small enough.
    run = dataclasses.replace(run, diagnostics=(), stop_at_target=run.target is not None,
                              eval_every_steps=max(1, steps_per_epoch // 8) if run.target is not None else None,
                              epochs=max(run.epochs, 1000))
    preconditioned = adam_or_noise(run.optim.optimizer) == "adam"
    noise = GradientNoise(probe_batches(run, dataset), micro_batches=run.micro_batches, every=every,
                          population=dataset.n_train, preconditioned=preconditioned)
    watch = NoiseWatch(noise, run.target, config.max_relative_error, config.budget_seconds)
    result = train.run(run, store, "noise", verbose=verbose, callbacks=[noise, watch])
    if result.skipped:
        raise KerasbatchError(f"{str(result.path)!r} holds an earlier measurement; use another --study")
    epoch, reached = goal_epoch(watch.accuracy, run.target)
    if reached:
        watch.measure_more()  # at the weights that reached the target, the last epoch's
    value, error, window = noise_in_window(watch.estimates, watch.accuracy, run.target)
    if not math.isfinite(value) and preconditioned and epoch:
        # Adam's preconditioned |G|² was noise throughout (a target reached within a few hundred steps,
        # while Adam's second moment is still young): the raw gradients' noise scale at the goal instead.
        preconditioned = noise.preconditioned = False
        watch.restart()
        watch.measure_more(epoch=epoch)
        value, error, window = noise_in_window(watch.estimates, watch.accuracy, run.target)
    if not math.isfinite(value):
        raise KerasbatchError("the gradient noise scale could not be measured: every |G|² estimate was noise "
                              f"(the run {watch.stopped_because or 'ended'}); give it a larger --budget-seconds")
    last = epoch or max(e for e, _, _ in watch.estimates)
    return NoiseMeasurement(noise_scale=value, relative_error=error, batch_size=run.batch_size,
                            micro_batch_size=int(noise.micro_batch), window=window,
                            trajectory=trajectory(watch.estimates), steps_to_target=result.summary.get("steps_to_target"),
                            seconds=result.summary["train_seconds"], target_reached=reached, goal_epoch=epoch,
                            goal_accuracy=watch.accuracy.get(epoch), steps_to_goal=(result.summary.get("steps_to_target") if reached else None) or last * steps_per_epoch,
                            stretches=stretches(watch.estimates, last), preconditioned=preconditioned,
                            stopped_because=watch.stopped_because or "ended")


def _run_suggestion(config: SuggestConfig, suggestion: Suggestion, store: Store, verbose: int) -> dict[str, Any]:
    from kerasbatch.training import train

    run = dataclasses.replace(suggested_config(config, suggestion), stop_at_target=config.run.target is not None)
    result = train.run(run, store, f"suggested_bs{suggestion.batch_size}", verbose=verbose)
    return {"run_id": result.run_id, "status": result.status,
            "seconds_to_target": result.summary.get("seconds_to_target"),
            "steps_to_target": result.summary.get("steps_to_target"),
            "final_val_accuracy": result.summary.get("final_val_accuracy")}


def _enough(noise: StepsModel, baseline_batch: int) -> Callable[[list[dict[str, Any]]], bool]:
    """The profile's stopping rule: the baseline is measured and no larger size can be faster."""
    from kerasbatch.training.step_time import step_times

    def enough(rows: list[dict[str, Any]]) -> bool:
        return (rows[-1]["batch_size"] >= baseline_batch
                and larger_sizes_cannot_help(noise, step_times(rows)))
    return enough


def _say(progress: Progress | None, line: str) -> None:
    if progress is not None:
        progress(line)
