"""MLflow runs from actbench run folders (`actbench export mlflow PATH... --to URI`).

Each run folder becomes one MLflow run in the experiment "actbench": params from config.yaml (dotted
keys), per-epoch metrics with step = epoch, summary metrics (test loss/accuracy last and best, timing,
accuracy under noise), config/summary/env/robustness files as artifacts. A sweep folder becomes a parent
run (with the sweep's report figures) and its runs its children; a run outside a sweep gets its own
figures. Exporting is idempotent: every MLflow run is tagged with its folder and a fingerprint of the
folder's results, an unchanged run is skipped and a changed one (it trained further) replaced.

Needs the `mlflow` extra (mlflow-skinny is enough). A plain folder as URI is MLflow's file store.
"""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunStatus
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from actbench import runs as R
from actbench.report.groups import flatten
from actbench.sweep.plan import MANIFEST
from actbench.trackers.scalars import epoch_scalars, summary_scalars

EXPERIMENT = "actbench"
PATH_TAG, PRINT_TAG, KIND_TAG = "actbench.path", "actbench.fingerprint", "actbench.kind"

ARTIFACTS = (R.CONFIG, R.SUMMARY, R.ENV, R.ROBUSTNESS)
STATUS = {R.COMPLETED: "FINISHED", R.FAILED: "FAILED", R.INTERRUPTED: "KILLED"}
BATCH = 500  # metrics per log_batch call (MLflow accepts up to 1000)
CONNECT_TIMEOUT_S = 5.0  # an http(s) server that does not accept a connection in this time is unreachable
# MLflow's defaults (7 retries with backoff, 120 s per request) turn a server that went away into minutes
# of silence; the user may still set these variables.
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}


def tracking_uri(to: str) -> str:
    """A URI as given (http://, sqlite://, file://, databricks); a plain path -> its file store URI."""
    if "://" in to or to.startswith("databricks"):
        uri = to
    else:
        uri = Path(to).resolve().as_uri()
    if uri.startswith("file:"):
        # MLflow 3 keeps the file store in maintenance mode behind this switch; it is what a plain
        # folder means here (no server, no database).
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return uri


def check_reachable(uri: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """One line at once, instead of MLflow's retries for minutes, when nobody answers at an http(s) URI."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme not in ("http", "https"):
        return
    for key, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        socket.create_connection((parts.hostname or "", port), timeout=timeout_s).close()
    except (OSError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise R.RunError(
            f"--to {uri}: no MLflow tracking server answers there ({why}; waited at most {timeout_s:g} s)"
        ) from None


def fingerprint(run_dir: Path) -> str:
    """Hash of what an export carries: a run that trained further (or was re-evaluated) changes it."""
    h = hashlib.sha256()
    for name in (R.CONFIG, R.METRICS, R.SUMMARY, R.ROBUSTNESS):
        path = run_dir / name
        h.update(name.encode() + b"\0" + (path.read_bytes() if path.exists() else b"") + b"\0")
    return h.hexdigest()[:16]


def _existing(client: MlflowClient, experiment_id: str) -> dict[str, Any]:
    """{actbench.path tag: MLflow run} of the experiment's active runs."""
    found: dict[str, Any] = {}
    token = None
    while True:
        page = client.search_runs([experiment_id], max_results=1000, page_token=token)
        found |= {r.data.tags[PATH_TAG]: r for r in page if PATH_TAG in r.data.tags}
        token = page.token
        if not token:
            return found


def _metrics(run_dir: Path, summary: dict[str, Any], robustness: dict[str, Any] | None) -> list[Metric]:
    now = int(time.time() * 1000)
    records, _ = R.read_metrics(run_dir)
    out = [Metric(k, v, now, int(rec["epoch"])) for rec in records for k, v in epoch_scalars(rec).items()]
    last = max((int(rec["epoch"]) for rec in records), default=0)
    out += [Metric(k, v, now, last) for k, v in summary_scalars(summary).items()]
    results = (robustness or {}).get("results")
    for kind, entries in (results if isinstance(results, dict) else {}).items():
        for e in entries if isinstance(entries, list) else []:
            if isinstance(e, dict) and isinstance(e.get("acc"), (int, float)):
                out.append(Metric(f"robustness/{kind}/acc_at_{e['level']:g}", float(e["acc"]), now, last))
    return out


def _params(run_dir: Path) -> list[Param]:
    from actbench.config import read_yaml

    flat = flatten(read_yaml(run_dir / R.CONFIG))
    return [Param(k, str(list(v) if isinstance(v, tuple) else v)[:6000]) for k, v in sorted(flat.items())]


def _log_figures(client: MlflowClient, run_id: str, folder: Path) -> None:
    from actbench.report.build import build_report
    from actbench.report.figures import write_figures

    with tempfile.TemporaryDirectory(prefix="actbench-mlflow-") as tmp:
        files, _ = write_figures(build_report([folder]), Path(tmp))
        if files:
            client.log_artifacts(run_id, tmp, "plots")


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return R.read_json(path)
    except R.RunError:
        return None


def _export_run(
    client: MlflowClient, exp: str, run_dir: Path, parent: str | None, known: dict[str, Any]
) -> bool:
    """One run folder -> one MLflow run; False when an identical export already exists."""
    key, fp = str(run_dir.resolve()), fingerprint(run_dir)
    old = known.get(key)
    if old is not None and old.data.tags.get(PRINT_TAG) == fp:
        return False
    if old is not None:
        client.delete_run(old.info.run_id)  # it trained further: replace, never append a second history
    summary = _read(run_dir / R.SUMMARY) or {}
    tags = {PATH_TAG: key, PRINT_TAG: fp, KIND_TAG: "run", "status": str(summary.get("status"))}
    if parent:
        tags["mlflow.parentRunId"] = parent
    run = client.create_run(exp, run_name=run_dir.name, tags=tags)
    rid = run.info.run_id
    params, metrics = _params(run_dir), _metrics(run_dir, summary, _read(run_dir / R.ROBUSTNESS))
    for i in range(0, len(params), 100):
        client.log_batch(rid, params=params[i : i + 100])
    for i in range(0, len(metrics), BATCH):
        client.log_batch(rid, metrics=metrics[i : i + BATCH])
    for name in ARTIFACTS:
        if (run_dir / name).exists():
            client.log_artifact(rid, str(run_dir / name))
    if parent is None:
        _log_figures(client, rid, run_dir)
    client.set_terminated(rid, STATUS.get(str(summary.get("status")), RunStatus.to_string(RunStatus.RUNNING)))
    return True


def _sweep_parent(client: MlflowClient, exp: str, sweep_dir: Path, known: dict[str, Any]) -> str:
    """The parent run of a sweep folder (created once, its figures refreshed)."""
    key = str(sweep_dir.resolve())
    run = known.get(key)
    if run is None:
        run = client.create_run(exp, run_name=sweep_dir.name, tags={PATH_TAG: key, KIND_TAG: "sweep"})
        known[key] = run
        client.log_artifact(run.info.run_id, str(sweep_dir / MANIFEST))
        client.set_terminated(run.info.run_id, "FINISHED")
    _log_figures(client, run.info.run_id, sweep_dir)  # same file names: replaced, not added
    return run.info.run_id


def export_mlflow(run_dirs: list[Path], to: str) -> tuple[str, int, int]:
    """Export the runs to the tracking store `to`; returns (URI, runs written, runs unchanged)."""
    uri = tracking_uri(to)
    check_reachable(uri)
    try:
        return uri, *_export(MlflowClient(tracking_uri=uri), run_dirs)
    except MlflowException as exc:  # the server refused a request, or went away during the export
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise R.RunError(f"--to {uri}: MLflow export failed ({why})") from None


def _export(client: MlflowClient, run_dirs: list[Path]) -> tuple[int, int]:
    found = client.get_experiment_by_name(EXPERIMENT)
    exp = found.experiment_id if found else client.create_experiment(EXPERIMENT)
    known = _existing(client, exp)
    parents: dict[Path, str] = {}
    written = 0
    for run_dir in run_dirs:
        sweep_dir = run_dir.parent if (run_dir.parent / MANIFEST).exists() else None
        if sweep_dir is not None and sweep_dir not in parents:
            parents[sweep_dir] = _sweep_parent(client, exp, sweep_dir, known)
        written += _export_run(client, exp, run_dir, parents.get(sweep_dir) if sweep_dir else None, known)
    return written, len(run_dirs) - written
