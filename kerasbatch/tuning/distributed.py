"""KerasTuner's chief/worker mode (gRPC) for :mod:`kerasbatch.tuning.tune`, with keras-tuner 1.4.8's rough edges filed off.

A distributed search is one chief, which holds the oracle and never trains, and any number of workers,
which ask it for trials and train them. The processes find each other through KerasTuner's variables:

``KERASTUNER_TUNER_ID``
    ``chief`` (any id containing "chief") for the chief; a unique id per worker (``tuner0``, ``tuner1``…).
    A restarted worker must get its old id back: the chief keeps its unfinished trial for it.
``KERASTUNER_ORACLE_PORT``
    the chief's port; required for every process of a distributed search.
``KERASTUNER_ORACLE_IP``
    the address the chief binds and the workers connect to. Unset, it is ``127.0.0.1``: a search on one
    machine. For several machines give the chief ``0.0.0.0`` and the workers the chief's address.

Without a port and without a chief id the search runs in one process. Trials write to the study folder
from the workers, so workers on several machines need it on a shared file system (Hyperband also
warm-starts from other workers' checkpoints there). Differences from stock KerasTuner:

- the chief binds with ``SO_REUSEPORT`` off, so a second chief on the same port fails instead of
  silently sharing it; it exits within ``linger`` seconds of the last worker's stop instead of polling
  every 20 s, and a chief started on a finished study serves ``linger`` seconds and exits instead of
  waiting forever for a stop that never comes;
- KerasTuner's state files are written whole or not at all (``tuner_internals.whole_file_saves``): a
  chief killed while saving left an empty ``trial.json`` that the restarted chief failed to load, so the
  workers waited for a chief that never came;
- a restarted chief keeps in-flight trials with the workers that run them (and waits for those workers
  to be told to stop) instead of handing them out twice, and believes ``oracle.json`` over the trial files
  saved before it (:func:`repair_reloaded_oracle`): no trial is run twice, lost or left unended;
- a worker waits for the chief's port before connecting (:func:`wait_for_chief`): gRPC's reconnect
  back-off can otherwise make a worker miss the whole search and fail; and it resends a call that a
  chief restart cut off (:class:`PatientStub`) instead of failing.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from kerasbatch.tuning import internals
from kerasbatch.errors import ConfigError, KerasbatchError
from kerasbatch.store import write_json

ID, IP, PORT = "KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"
DEFAULT_IP = "127.0.0.1"
FINISHED = "kerasbatch_finished.json"  # in KerasTuner's project folder: the search ended at this max_trials


def role() -> str:
    """``solo``, ``chief`` or ``worker``, from the environment; a half-set environment is a usage error."""
    tuner_id, port = os.environ.get(ID), os.environ.get(PORT)
    if port is None and IP not in os.environ and "chief" not in (tuner_id or ""):
        return "solo"
    if not tuner_id:
        raise ConfigError(f"a distributed search needs {ID} (chief, tuner0, tuner1, ...)")
    if port is None or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{ID}={tuner_id} needs {PORT}, the chief's port, got {port!r}")
    return "chief" if "chief" in tuner_id else "worker"


@contextmanager
def environment() -> Iterator[str]:
    """Yield :func:`role`, with ``KERASTUNER_ORACLE_IP`` defaulted to 127.0.0.1 for the duration."""
    current = role()
    added = current != "solo" and IP not in os.environ
    if added:
        os.environ[IP] = DEFAULT_IP
    try:
        yield current
    finally:
        if added:
            os.environ.pop(IP, None)


@contextmanager
def single_process() -> Iterator[None]:
    """Hide KerasTuner's distribution variables, e.g. to read a study from inside a worker."""
    saved = {name: os.environ.pop(name) for name in (ID, IP, PORT) if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def address() -> str:
    return f"{os.environ.get(IP, DEFAULT_IP)}:{os.environ[PORT]}"


def wait_for_chief(timeout: float = 600.0, poll: float = 0.5) -> None:
    """Block until the chief's port accepts connections; a usage error after ``timeout`` seconds."""
    host, port = os.environ.get(IP, DEFAULT_IP), int(os.environ[PORT])
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=1.0).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise KerasbatchError(f"no KerasTuner chief at {host}:{port} after {timeout:.0f} s; "
                                      "start the chief first") from None
            time.sleep(poll)


def check_port_free() -> None:
    """Fail early when the chief's port is taken: before a chief starts over (``overwrite``), not after."""
    host, port = os.environ.get(IP, DEFAULT_IP), int(os.environ[PORT])
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC: a dead chief's TIME_WAIT is no owner
        try:
            probe.bind((host, port))
        except OSError:
            raise KerasbatchError(f"cannot serve the search on {address()}: the port is in use "
                                  "(is another chief running?)") from None


def repair_reloaded_oracle(oracle, *, keep_running: bool) -> None:
    """Make a reloaded oracle agree with what its ``oracle.json`` says happened.

    ``Oracle.reload`` trusts every ``trial.json`` it finds and retries every trial listed as ongoing; both
    are wrong after a stop. Stock KerasTuner saves a trial's file before ``oracle.json``, so a process
    killed between the two leaves a trial created but never handed out, or ended on file but not in
    ``end_order``; and it saves ``oracle.json`` before it removes an ended trial from the ongoing ones, so
    a finished study lists its last trial as ongoing. Here ``oracle.json`` decides:

    - a trial not in ``start_order`` was never handed out: forgotten, and its id is given again;
    - a trial in ``end_order`` has ended;
    - any other goes back to the tuner id that runs it (``keep_running``: a restarted chief, whose workers
      are still training it or resending its end) or to the retry queue (a single process, the only one
      left to run it).
    """
    path, retry = internals.state_path(oracle), internals.retry_queue(oracle)
    if not os.path.isfile(path):
        return
    running = {trial_id: tuner_id for tuner_id, trial_id in _load(path)["ongoing_trials"].items()}
    retry[:] = [trial_id for trial_id in retry if trial_id not in running]  # reload queued them: decided below
    for trial_id in [t for t in oracle.trials if t not in oracle.start_order]:
        del oracle.trials[trial_id]
    for trial_id, trial in oracle.trials.items():
        if trial_id in oracle.end_order or trial_id in retry:
            continue
        if keep_running and trial_id in running:
            internals.resume_trial(oracle, running[trial_id], trial)
        else:
            retry.append(trial_id)


def serve_chief(oracle, *, finished: Callable[[], bool], on_bound: Callable[[], None] = lambda: None,
                on_trial_end: Callable[[str], None] = lambda trial_id: None,
                linger: float = 3.0, poll: float = 0.25) -> None:
    """Serve ``oracle`` to the workers until the search is done and no worker is left, then return.

    Done means: no trial ongoing, every worker that asked for trials was told to stop, and either some
    worker was told to stop or ``finished()`` says so (a study that was complete before this chief
    started). The chief then serves ``linger`` more seconds, so that a late worker is told to stop
    rather than left waiting. ``on_bound`` runs once the port is ours; ``on_trial_end`` gets each trial
    id as it ends.
    """
    try:
        server, servicer = internals.chief_server(oracle, address())
    except RuntimeError:
        raise KerasbatchError(f"cannot serve the search on {address()}: the port is in use "
                              "(is another chief running?)") from None
    try:
        on_bound()
        reported, done_since = len(oracle.end_order), None
        while True:
            time.sleep(poll)
            for trial_id in oracle.end_order[reported:]:
                on_trial_end(trial_id)
            reported = len(oracle.end_order)
            if internals.chief_idle(oracle) and (internals.stop_sent(servicer) or finished()):
                done_since = done_since or time.monotonic()
                if time.monotonic() - done_since >= linger:
                    return
            else:
                done_since = None
    finally:
        server.stop(grace=2.0).wait()


class PatientStub:
    """A worker's line to the chief that outlasts a chief restart.

    Stock workers fail with ``UNAVAILABLE`` when the chief goes away during a call, and reconnect with a
    back-off that grows to two minutes. Here a cut-off call is sent again (the chief answers a repeated
    ``CreateTrial`` with the same trial and ignores a repeated ``EndTrial``) until ``timeout``, and an
    "idle, ask again" answer is followed by a pause rather than by the next call at once.
    """

    def __init__(self, timeout: float = 600.0) -> None:
        import grpc

        options = [("grpc.initial_reconnect_backoff_ms", 500), ("grpc.max_reconnect_backoff_ms", 2000)]
        self._stub = internals.oracle_stub(grpc.insecure_channel(address(), options=options))
        self._timeout = timeout

    def __getattr__(self, name: str):
        import grpc

        call = getattr(self._stub, name)

        def patient(request, **kwargs):
            deadline = time.monotonic() + self._timeout
            while True:
                try:
                    response = call(request, **kwargs)
                    break
                except grpc.RpcError as exc:
                    if exc.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
            if name == "CreateTrial" and internals.is_idle(response):
                time.sleep(0.5)  # Hyperband waits for other workers' trials: KerasTuner asks again at once
            return response

        return patient


class ResumableTunerMixin(internals.TunerHooks):
    """Put in front of a KerasTuner tuner: a search that survives restarts, and a chief that exits.

    - a reload keeps in-flight trials with their workers and does not re-run ended ones
      (:func:`repair_reloaded_oracle`); a study begun under another tuner id (one process, then a
      chief) is continued, not started over;
    - the chief serves with :func:`serve_chief` and saves once more when done; workers talk to it
      through a :class:`PatientStub`;
    - KerasTuner's stop after 3 consecutive failed trials is off: it raises inside ``end_trial`` before
      the state is saved (in a chief: inside the gRPC call, stranding the worker). Failed trials still
      count towards ``max_trials``, so the search ends.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_consecutive_failed_trials", None)
        super().__init__(*args, **kwargs)
        if self.is_worker():
            internals.use_stub(self, PatientStub())

    def continues_study(self) -> bool:
        """True when this process holds the oracle and the study has one saved."""
        return not self.is_worker() and os.path.isfile(internals.state_path(self.oracle))

    def reload(self):
        super().reload()
        if not self.is_worker():
            repair_reloaded_oracle(self.oracle, keep_running=internals.is_chief())

    def populate_initial_space(self):
        if self.continues_study():  # no state file under this tuner id, but the study exists
            self.oracle.reload()
            repair_reloaded_oracle(self.oracle, keep_running=internals.is_chief())
        else:
            super().populate_initial_space()

    def search(self, *args, **kwargs):
        if internals.is_chief():
            oracle, path = self.oracle, os.path.join(self.project_dir, FINISHED)
            # Hyperband can end before max_trials; only the marker tells a restarted chief so.
            before = os.path.isfile(path) and _load(path)["max_trials"] == oracle.max_trials
            serve_chief(oracle, on_bound=self.save, on_trial_end=self.report_trial_end,
                        finished=lambda: before or (oracle.remaining_trials() == 0
                                                    and not internals.retry_queue(oracle)))
        else:
            super().search(*args, **kwargs)
        if not self.is_worker():
            self.save()  # in a chief, the first save after the last trial ended: nothing is ongoing
            write_json(os.path.join(self.project_dir, FINISHED), {"max_trials": self.oracle.max_trials})

    def report_trial_end(self, trial_id: str) -> None:
        """Called in the chief as each trial ends."""


def _load(path: str) -> dict:
    with open(path) as fh:
        return json.load(fh)
