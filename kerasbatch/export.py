"""Export: a finished run's trained model as a TensorFlow SavedModel, a ``.keras`` file and a model card.

:func:`export_run` writes ``saved_models/<study>-<run_id>/``::

    saved_model/      TensorFlow SavedModel with a ``serving_default`` signature (TF Serving, saved_model_cli)
    model.keras       the native Keras file
    model_card.json   what the model is, how it was trained, how well it did, and the export check

The weights are the ones the run saved at the end of training (its last completed epoch); nothing is
retrained. An export counts only once it is checked: the SavedModel is reloaded and must give the Keras
model's predictions on the run's validation examples. Everything is built in a hidden sibling folder and
renamed into place, so a failed export leaves nothing behind and an old export is replaced only by a
complete new one. :func:`kerasbatch.reports.best.best_run` picks the run to export from a study (in a study with
arms or repeats: the best seed of the arm and batch size with the best mean); the card names its arm and seed.
"""

from __future__ import annotations

import os
import secrets
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from kerasbatch._version import __version__
from kerasbatch.data import datasets as data
from kerasbatch.config.run import RunConfig
from kerasbatch.errors import KerasbatchError
from kerasbatch.store import CONFIG, MODEL, SUMMARY, check_writable, make_dir, read_json, write_json

EXPORT_ROOT = Path("saved_models")
SAVED_MODEL = "saved_model"
CARD = "model_card.json"
SIGNATURE = "serving_default"
VERIFY_EXAMPLES = 64

# Largest |SavedModel − Keras| difference in predicted probabilities accepted, by the export's policy:
# a float32 graph agrees with itself to rounding; 16-bit ones keep only 3–4 significant digits.
TOLERANCE = {"float32": 1e-5, "mixed_float16": 1e-2, "mixed_bfloat16": 1e-2}
# A float32 copy of a 16-bit model drifts from it by the rounding it no longer does (bfloat16 keeps
# ~2–3 digits); weights that failed to carry over would miss by far more than this.
CONVERSION_TOLERANCE = 5e-2

CARD_METRICS = ("best_val_accuracy", "final_val_accuracy", "test_accuracy", "test_loss", "train_accuracy",
                "generalization_gap", "epochs_to_target", "steps_to_target", "examples_to_target",
                "seconds_to_target", "samples_per_second", "train_seconds")


def export_run(run_dir: str | Path, to: str | Path | None = None, *, dtype: str | None = None,
               force: bool = False) -> Path:
    """Export a finished run's trained model and return the export folder.

    Args:
        run_dir: a run folder ``<out>/<study>/<run_id>`` whose status is ``ok``.
        to: the export folder; by default ``saved_models/<study>-<run_id>``.
        dtype: ``None`` keeps the run's precision; ``"float32"`` exports a float32 copy of a
            mixed-precision model (16-bit graphs serve slowly on most CPUs).
        force: replace an existing export (only once the new one is complete and checked).

    Raises:
        KerasbatchError: the run is not an ok run with a model, the target exists (without ``force``)
            or is not an export, the data cannot be loaded, or the export check fails.
    """
    run_dir = Path(run_dir)
    config, summary = read_run(run_dir)
    export_dtype = _export_dtype(dtype, summary["precision"])
    target = Path(to) if to is not None else EXPORT_ROOT / f"{run_dir.resolve().parent.name}-{run_dir.name}"
    _check_target(target, force)
    check_writable(target)
    make_dir(target.parent)
    # A sibling, so that the final rename stays on one file system; mkdir honours the umask (exports
    # are meant to be shared), unlike mkdtemp's owner-only mode.
    tmp = _sibling(target, "tmp")
    tmp.mkdir()
    try:
        _write_export(tmp, run_dir, config, summary, export_dtype)
        _move_into_place(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def read_run(run_dir: Path) -> tuple[RunConfig, dict[str, Any]]:
    """The run's config and summary; only a finished ``ok`` run with a saved model can be exported."""
    if not (run_dir / SUMMARY).is_file() or not (run_dir / CONFIG).is_file():
        raise KerasbatchError(f"{str(run_dir)!r} is not a finished run (no {CONFIG} and {SUMMARY})")
    summary = read_json(run_dir / SUMMARY)
    if summary.get("status") != "ok":
        raise KerasbatchError(f"run {str(run_dir)!r} ended with status {summary.get('status')!r}; "
                              "only ok runs have a trained model to export")
    if not (run_dir / MODEL).is_file():
        raise KerasbatchError(f"run {str(run_dir)!r} has no {MODEL} to export")
    return RunConfig.from_dict(read_json(run_dir / CONFIG)["config"]), summary


def _export_dtype(dtype: str | None, trained: str) -> str:
    """The policy the export computes in: the run's own, or float32 for a serving copy."""
    if dtype is None or dtype == trained:
        return trained
    if dtype != "float32":
        raise KerasbatchError(f"dtype must be float32, or omitted to keep the run's {trained}; got {dtype!r}")
    return dtype


def _check_target(target: Path, force: bool) -> None:
    """Fail before any work when the target is taken; ``force`` never deletes a folder that is not an export."""
    if not target.exists():
        return
    if not force:
        raise KerasbatchError(f"{str(target)!r} already exists; use --force (force=True) to replace it")
    if not target.is_dir() or (any(target.iterdir()) and not (target / CARD).is_file()):
        raise KerasbatchError(f"{str(target)!r} is not a kerasbatch export (no {CARD}); not replacing it")


def _sibling(target: Path, tag: str) -> Path:
    return target.parent / f".{target.name}.{tag}-{secrets.token_hex(4)}"


def _move_into_place(tmp: Path, target: Path) -> None:
    """Rename the finished export to ``target``; an old export is moved aside first and deleted last."""
    if not target.exists():
        os.rename(tmp, target)
        return
    # Directories cannot be swapped in one step, so the old one steps aside and comes back on failure.
    aside = _sibling(target, "old")
    os.rename(target, aside)
    try:
        os.rename(tmp, target)
    except BaseException:
        os.rename(aside, target)
        raise
    shutil.rmtree(aside)


def _write_export(folder: Path, run_dir: Path, config: RunConfig, summary: dict[str, Any],
                  export_dtype: str) -> None:
    """Write the three items into ``folder`` and check the SavedModel against the Keras model."""
    trained = load_model(run_dir / MODEL)
    model = trained if export_dtype == summary["precision"] else to_float32(trained)
    model.export(str(folder / SAVED_MODEL), format="tf_saved_model", verbose=False)
    if model is trained:
        shutil.copy2(run_dir / MODEL, folder / MODEL)  # byte for byte what the run saved
    else:
        model.save(folder / MODEL)
    x = validation_batch(config)
    check = verify(folder / SAVED_MODEL, model, x, TOLERANCE.get(export_dtype, 1e-2))
    if model is not trained:
        drift = max_abs_difference(predict(model, x), predict(trained, x))
        if not drift <= CONVERSION_TOLERANCE:  # NaN fails too
            raise KerasbatchError(f"the float32 copy's predictions differ from the trained model's by "
                                  f"{drift:.3g} (tolerance {CONVERSION_TOLERANCE:g})")
        check.update(trained_model_max_abs_difference=drift, trained_model_tolerance=CONVERSION_TOLERANCE)
    write_json(folder / CARD, model_card(run_dir, config, summary, model, export_dtype, check))


def load_model(path: Path) -> keras.Model:
    """The run's saved model, for inference only (its optimizer state is not needed to serve)."""
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:  # a user model whose custom layers are not importable here, a damaged file
        raise KerasbatchError(f"cannot load {str(path)!r}: {type(exc).__name__}: {exc}") from exc


def to_float32(model: keras.Model) -> keras.Model:
    """A float32 copy of a (mixed-precision) functional or sequential model, with the same weights.

    Every layer is re-made from its config with ``dtype="float32"``: a layer's config records its own
    dtype policy, so cloning under a float32 *global* policy alone would keep the 16-bit layers.
    """
    def float32_layer(layer: keras.layers.Layer) -> keras.layers.Layer:
        layer_config = layer.get_config()
        layer_config["dtype"] = "float32"
        return layer.__class__.from_config(layer_config)

    try:
        copy = keras.models.clone_model(model, clone_function=float32_layer, recursive=True)
    except ValueError as exc:  # a subclassed model has no layer graph to clone
        raise KerasbatchError(f"cannot make a float32 copy of model {model.name!r}: {exc}") from exc
    # Mixed policies keep float32 variables, so the trained values carry over without rounding.
    copy.set_weights(model.get_weights())
    return copy


def validation_batch(config: RunConfig, n: int = VERIFY_EXAMPLES) -> np.ndarray:
    """The first ``n`` validation examples, preprocessed exactly as the run's evaluation pipeline does."""
    dataset = data.load(config.data)
    batches = data.pipeline(dataset.x_val[:n], dataset.y_val[:n], n, training=False)
    x, _ = next(iter(batches))
    return x.numpy()


def verify(saved_model_dir: Path, model: keras.Model, x: np.ndarray, tolerance: float) -> dict[str, Any]:
    """Reload the SavedModel and check that its ``serving_default`` predicts what ``model`` predicts.

    Returns the check's record for the model card; raises :class:`KerasbatchError` on a mismatch.
    """
    serve = tf.saved_model.load(str(saved_model_dir)).signatures[SIGNATURE]
    (name, spec), = serve.structured_input_signature[1].items()  # kerasbatch models have one input
    outputs = serve(**{name: tf.constant(x, dtype=spec.dtype)})
    served = next(iter(outputs.values())).numpy()
    difference = max_abs_difference(served, predict(model, x))
    if not difference <= tolerance:  # NaN fails too
        raise KerasbatchError(f"export check failed: the SavedModel's predictions differ from the Keras "
                              f"model's by {difference:.3g} (tolerance {tolerance:g})")
    return {"signature": SIGNATURE, "examples": int(len(x)), "max_abs_difference": difference,
            "tolerance": tolerance, "passed": True}


def predict(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """``model``'s predictions as Keras serves them: in a compiled graph, like the SavedModel.

    Not an eager call: under bfloat16 the graph's fused kernels round differently from eager ops, and
    on a trained digits cnn the two disagree by 0.014 in probability while the SavedModel and
    ``predict`` agree exactly.
    """
    return model.predict(x, batch_size=len(x), verbose=0)


def max_abs_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


def model_card(run_dir: Path, config: RunConfig, summary: dict[str, Any], model: keras.Model,
               export_dtype: str, verification: dict[str, Any]) -> dict[str, Any]:
    """What the exported model is, how it was trained, how well it did, and how the export was checked."""
    card = {
        "source_run": str(run_dir.resolve()),
        "study": run_dir.resolve().parent.name,
        "run_id": run_dir.name,
        "dataset": config.data.dataset,
        "model": {"name": config.model.name, "widths": list(config.model.widths), "dropout": config.model.dropout},
        "input_shape": list(model.input_shape[1:]),
        "batch_size": summary["batch_size"],
        "learning_rate": summary["learning_rate"],
        "optimizer": config.optim.optimizer,
        "precision": summary["precision"],
        "export_dtype": export_dtype,
        "epochs": summary["epochs"],
        "epochs_planned": config.epochs,
        # train.py saves model.keras once fit returns: the weights of the last completed epoch.
        "weights": "final epoch",
        "weights_epoch": summary["epochs"],
        "target": config.target,
        "metrics": {key: summary.get(key) for key in CARD_METRICS},
        "noise_scale": {key: summary.get(key) for key in ("gns", "gns_mean")},
        "versions": {"kerasbatch": __version__, "tensorflow": tf.__version__, "keras": keras.__version__},
        "trained_with": {key: summary[key] for key in ("kerasbatch_version", "tensorflow_version",
                                                       "keras_version") if key in summary},
        "verification": verification,
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if "trial_id" in summary:
        card["trial"] = {"trial_id": summary["trial_id"], "hyperparameters": summary.get("hyperparameters")}
    if "arm" in summary:  # a run of a study: which arm, and which of its seeds
        card["study_run"] = {"arm": summary["arm"], "seed": summary.get("seed")}
    return card
