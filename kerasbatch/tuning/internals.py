"""Every KerasTuner internal kerasbatch relies on, reached only through this module.

KerasTuner's public API (``HyperModel.build/fit``, the tuners, ``Oracle``) does not reach what
:mod:`kerasbatch.tuning.tune` and :mod:`kerasbatch.tuning.distributed` need: declaring the search space without
building a model, a failed trial's traceback kept off stderr, a chief that exits and survives a restart,
a worker that outlasts one. The private names those take are used here and nowhere else, checked by
:func:`missing` (``tests/test_tuner_internals.py`` names any that an upgrade removed), and ``setup.py``
pins keras-tuner to the releases that were tested with them (1.4.6 to 1.4.8).
"""

from __future__ import annotations

import contextlib
import datetime
import inspect
import json
import os
from collections.abc import Callable, Iterator
from concurrent import futures
from unittest import mock

import keras_tuner as kt
from keras_tuner.src import config as kt_config
from keras_tuner.src.distribute import utils as kt_distribute
from keras_tuner.src.engine.tuner_utils import SaveBestEpoch, TunerCallback

from kerasbatch.store import write_text


class TunerHooks:
    """Public names for the tuner hooks kerasbatch overrides or calls; put in front of a KerasTuner tuner.

    Override :meth:`populate_initial_space` and :meth:`build_hypermodel` (calling ``super()`` for the stock
    behaviour); call :meth:`build_for_trial` and :meth:`is_worker`.
    """

    def _populate_initial_space(self):  # BaseTuner.__init__ calls it unless the tuner reloads
        self.populate_initial_space()

    def populate_initial_space(self) -> None:
        """Declare the search space (stock: build the hypermodel until every condition was active)."""
        super()._populate_initial_space()

    def _build_hypermodel(self, hp):  # Tuner._try_build calls it; Hyperband loads its warm start there
        return self.build_hypermodel(hp)

    def build_hypermodel(self, hp):
        return super()._build_hypermodel(hp)

    def build_for_trial(self, hp):
        """The trial's model as a stock tuner builds it (Keras session cleared, size checked)."""
        return self._try_build(hp)

    def is_worker(self) -> bool:
        """True in a worker of a distributed search (it asks a chief for trials)."""
        return self._is_worker()


def is_chief() -> bool:
    """True when KerasTuner's variables make this process the chief that holds the oracle."""
    return kt_distribute.is_chief_oracle()


@contextlib.contextmanager
def quiet_failures() -> Iterator[None]:
    """Borrow KerasTuner's DEBUG flag: a failed trial's traceback goes to its message, not to stderr."""
    previous, kt_config.DEBUG = kt_config.DEBUG, False
    try:
        yield
    finally:
        kt_config.DEBUG = previous


# -- the callbacks a stock tuner passes to HyperModel.fit ----------------------------------------------

def is_tuner_callback(callback) -> bool:
    return isinstance(callback, (TunerCallback, SaveBestEpoch))


def trial_ids(callbacks) -> tuple[str | None, str | None]:
    """``(trial_id, tuner_id)`` of the trial a stock tuner's ``run_trial`` is fitting, from its callback."""
    for callback in callbacks:
        if isinstance(callback, TunerCallback):
            return callback.trial.trial_id, callback.tuner.tuner_id
    return None, None


def checkpoint_paths(callbacks) -> list[str]:
    """Where the tuner expects the trial's weights (Hyperband warm-starts later trials from them)."""
    return [callback.filepath for callback in callbacks if isinstance(callback, SaveBestEpoch)]


# -- the oracle's saved state -----------------------------------------------------------------------

def state_path(oracle) -> str:
    """The oracle's ``oracle.json``."""
    return oracle._get_oracle_fname()


def retry_queue(oracle) -> list[str]:
    """The trial ids the oracle hands out again before new ones (the live list: change it in place)."""
    return oracle._retry_queue


def resume_trial(oracle, tuner_id: str, trial) -> None:
    """Give ``trial`` back to the tuner that runs it, as ``create_trial`` had: ongoing, its tuner known.

    The tuner id must be known (``oracle.tuner_ids``): a chief counts the search done when no trial is
    ongoing and every known tuner was told to stop, so a forgotten one could be left asking a chief that
    has exited.
    """
    oracle.tuner_ids.add(tuner_id)
    oracle.ongoing_trials[tuner_id] = trial
    trial.status = kt.engine.trial.TrialStatus.RUNNING  # its file may say ended when oracle.json does not
    # The display's start time is saved after oracle.json; without it end_trial fails (verbose >= 1).
    oracle._display.trial_start.setdefault(trial.trial_id, datetime.datetime.now())
    oracle._display.trial_number.setdefault(trial.trial_id, len(oracle.trials))


@contextlib.contextmanager
def whole_file_saves() -> Iterator[None]:
    """KerasTuner's JSON files (``oracle.json``, each ``trial.json``, the tuner's) written whole or not at all.

    KerasTuner truncates a file, then writes it: a process killed in between leaves an empty file, and the
    next one to load the study (a restarted chief) fails on it. For the duration, each is written beside
    its place and renamed over it.
    """
    from keras_tuner.src import utils

    def save_json(path, obj):
        text = json.dumps(obj)  # as KerasTuner's own: its files keep their NaN
        write_text(path, text)
        return text

    previous, utils.save_json = utils.save_json, save_json
    try:
        yield
    finally:
        utils.save_json = previous


# -- the chief's gRPC service and the workers' stub ----------------------------------------------------

def chief_server(oracle, address: str):
    """``(server, servicer)``: KerasTuner's oracle service on ``address``, started; ``RuntimeError`` if taken.

    ``SO_REUSEPORT`` is off, so a second chief cannot share the port, and a repeated ``EndTrial`` (a worker
    resending after a lost reply) is answered without ending the trial twice.
    """
    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    class Servicer(oracle_chief.OracleServicer):
        def EndTrial(self, request, context):  # gRPC method name
            if not any(t.trial_id == request.trial.trial_id for t in oracle.ongoing_trials.values()):
                return protos.get_service().EndTrialResponse()
            return super().EndTrial(request, context)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1), options=[("grpc.so_reuseport", 0)])
    servicer = Servicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    server.add_insecure_port(address)
    server.start()
    return server, servicer


def chief_idle(oracle) -> bool:
    """No trial is ongoing and every tuner that asked for trials was told to stop."""
    from keras_tuner.src.distribute import oracle_chief

    return oracle_chief.exit_chief(oracle)


def stop_sent(servicer) -> bool:
    """The chief told some worker that the search is over."""
    return servicer.stop_triggered


def oracle_stub(channel):
    """KerasTuner's generated client for the oracle service on ``channel``."""
    from keras_tuner.src import protos

    return protos.get_service_grpc().OracleStub(channel)


def is_idle(create_trial_response) -> bool:
    """The chief's "nothing for you yet, ask again" answer to ``CreateTrial``."""
    from keras_tuner.src import protos

    return create_trial_response.trial.status == protos.get_proto().TrialStatus.IDLE


def use_stub(tuner, stub) -> None:
    """Send a worker tuner's calls to the chief through ``stub`` (it must offer the stock stub's methods)."""
    tuner.oracle.stub = stub


# -- what an upgrade must keep ------------------------------------------------------------------------

def _params(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def _oracle():
    return kt.oracles.RandomSearchOracle(objective=kt.Objective("val_accuracy", "max"), max_trials=1)


def _oracle_state() -> bool:
    oracle = _oracle()
    display = oracle._display
    return (isinstance(oracle._retry_queue, list) and isinstance(oracle.tuner_ids, set)
            and isinstance(oracle.ongoing_trials, dict) and isinstance(oracle.trials, dict)
            and isinstance(oracle.end_order, list) and isinstance(display.trial_start, dict)
            and isinstance(display.trial_number, dict) and _params(oracle._get_oracle_fname) == [])


def _servicer() -> bool:
    from keras_tuner.src.distribute import oracle_chief

    servicer = oracle_chief.OracleServicer(_oracle())
    return servicer.stop_triggered is False and _params(servicer.EndTrial) == ["request", "context"]


def _protos() -> bool:
    from keras_tuner.src import protos

    service = protos.get_service_grpc()
    return (callable(protos.get_service().EndTrialResponse) and callable(service.OracleStub)
            and callable(service.add_OracleServicer_to_server)
            and isinstance(protos.get_proto().TrialStatus.IDLE, int))


def _client_stub() -> bool:
    from keras_tuner.src.distribute import oracle_client

    variables = {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": "1", "KERASTUNER_TUNER_ID": "x"}
    with mock.patch.dict(os.environ, variables):  # the channel connects only on a call
        return hasattr(oracle_client.OracleClient(_oracle()), "stub")


def _saves_through_save_json() -> bool:
    from keras_tuner.src import utils

    seen = []
    previous, utils.save_json = utils.save_json, lambda path, obj: seen.append(path)
    try:
        kt.engine.trial.Trial(kt.HyperParameters()).save("trial.json")
    finally:
        utils.save_json = previous
    return seen == ["trial.json"] and _params(previous) == ["path", "obj"]


def _exit_chief() -> bool:
    from keras_tuner.src.distribute import oracle_chief

    return oracle_chief.exit_chief(_oracle()) is True


Base, Tuner = kt.engine.base_tuner.BaseTuner, kt.Tuner

REQUIRED: dict[str, Callable[[], bool]] = {
    "keras_tuner.src.config.DEBUG (bool)": lambda: isinstance(kt_config.DEBUG, bool),
    "keras_tuner.src.utils.save_json(path, obj), through which every state file is saved": _saves_through_save_json,
    "keras_tuner.src.distribute.utils.is_chief_oracle()": lambda: _params(kt_distribute.is_chief_oracle) == [],
    "keras_tuner.src.engine.tuner_utils.TunerCallback(tuner, trial)":
        lambda: _params(TunerCallback.__init__) == ["self", "tuner", "trial"],
    "keras_tuner.src.engine.tuner_utils.SaveBestEpoch(objective, filepath)":
        lambda: _params(SaveBestEpoch.__init__) == ["self", "objective", "filepath"],
    "BaseTuner._populate_initial_space(self)": lambda: _params(Base._populate_initial_space) == ["self"],
    "BaseTuner._is_worker(self)": lambda: _params(Base._is_worker) == ["self"],
    "Tuner._try_build(self, hp)": lambda: _params(Tuner._try_build) == ["self", "hp"],
    "Tuner._build_hypermodel(self, hp)": lambda: _params(Tuner._build_hypermodel) == ["self", "hp"],
    "Hyperband._build_hypermodel(self, hp)": lambda: _params(kt.Hyperband._build_hypermodel) == ["self", "hp"],
    "Oracle state: _retry_queue, tuner_ids, ongoing_trials, trials, end_order, _display.trial_start/"
    "trial_number, _get_oracle_fname()": _oracle_state,
    "keras_tuner.src.distribute.oracle_chief.OracleServicer(oracle).stop_triggered, EndTrial(request, context)":
        _servicer,
    "keras_tuner.src.distribute.oracle_chief.exit_chief(oracle)": _exit_chief,
    "keras_tuner.src.protos: EndTrialResponse, OracleStub, add_OracleServicer_to_server, TrialStatus.IDLE": _protos,
    "keras_tuner.src.distribute.oracle_client.OracleClient(oracle).stub": _client_stub,
}


def missing() -> list[str]:
    """The internals of :data:`REQUIRED` this KerasTuner lacks or has in another shape (empty when all is well)."""
    gone = []
    for name, check in REQUIRED.items():
        try:
            ok = check()
        except Exception:  # an ImportError or AttributeError is what "gone" looks like
            ok = False
        if not ok:
            gone.append(name)
    return gone
