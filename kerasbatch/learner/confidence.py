"""How sure a suggestion is: what its measurement supports, said in one line.

A suggestion is *confident* when the target was reached at the base batch, the noise scale's relative
error is within the limit, and the sizes predicted within the tolerance of the least time span no more
than a doubling; otherwise *uncertain*, with the reasons, and it takes the smallest of those sizes.
"""

from __future__ import annotations

from typing import Any

from kerasbatch.config.learner import SuggestConfig
from kerasbatch.config.scaling import adam_or_noise


def judge(config: SuggestConfig, measured, batch_range: tuple[int, int],
          n_train: int) -> dict[str, Any]:
    """How far the measurement supports a choice: ``level`` (confident or uncertain) and why."""
    target, base = config.run.target, measured.batch_size
    reasons = []
    if target is not None and not measured.target_reached:
        reached = "it recorded no validation accuracy" if measured.goal_accuracy is None else (
            f"it levelled off at {measured.goal_accuracy:.4g} by epoch {measured.goal_epoch}")
        reasons.append(f"the target {target:g} was not reached at batch {base} ({reached}); the choice is for "
                       f"reaching what that run reached")
    if not measured.relative_error <= config.max_relative_error:
        reasons.append(f"the noise scale's relative error {measured.relative_error:.2g} is above "
                       f"max_relative_error {config.max_relative_error:g}")
    if adam_or_noise(config.run.optim.optimizer) == "adam" and not measured.preconditioned:
        reasons.append("Adam's preconditioned noise scale could not be measured (its |G|² estimates were noise); "
                       "this is the raw gradients'")
    low, high = batch_range
    if high > 2 * low:
        reasons.append(f"sizes {low}–{high} are all predicted within {config.tolerance:.0%} of the least time: "
                       "the measurements cannot tell them apart")
    return {"level": "uncertain" if reasons else "confident", "reasons": reasons, "target": target,
            "target_reached": measured.target_reached, "goal_accuracy": measured.goal_accuracy,
            "relative_error": measured.relative_error, "max_relative_error": config.max_relative_error,
            "batch_range": tuple(batch_range), "tolerance": config.tolerance, "training_examples": n_train}


def describe_confidence(suggestion) -> str:
    """One line: how sure the suggestion is, and what it chose from."""
    confidence = suggestion.confidence
    low, high = confidence["batch_range"]
    within = f"within {confidence.get('tolerance', 0):.0%} of the least predicted time"
    whole = (f"; batch {suggestion.batch_size} is the whole training set"
             if suggestion.batch_size >= confidence["training_examples"] else "")
    if confidence["level"] == "confident":
        sizes = f"batch sizes {low}–{high} are {within}" if low != high else f"only batch {low} is {within}"
        return (f"confidence: confident (target reached, relative error {confidence['relative_error']:.2g} ≤ "
                f"{confidence['max_relative_error']:g}); {sizes}{whole}")
    sizes = f"the smallest of the sizes {low}–{high} {within}" if low != high else f"the only size {within}"
    return (f"confidence: uncertain — {'; '.join(confidence['reasons'])}; chose {suggestion.batch_size}, "
            f"{sizes}{whole}")


def take_smallest_defensible(choice: dict[str, Any]) -> dict[str, Any]:
    """The choice moved to the smallest size of its range, with that size's rate and speed-up."""
    low = choice["batch_size_interval"][0]
    rows = [dict(r, suggested=r["batch_size"] == low) for r in choice["candidates"]]
    row = next(r for r in rows if r["batch_size"] == low)
    return {**choice, "batch_size": low, "learning_rate": row["learning_rate"], "predicted_speedup": row["speedup"],
            "candidates": rows}
