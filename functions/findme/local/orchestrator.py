"""In-process orchestrator (ports.Orchestrator, local stack): Step Functions' steps in threads.

Runs the same steps as the state machines in ``findme/workflows/*.asl.json`` through the same
Lambda handlers (``functions/{digest,cluster,zip}/handler.py``):

- ``digest_prefix`` — payload ``{"group_id" | "prefix", "job_id"?, "force"?, "cluster"?,
  "batch_size"?, "max_concurrency"?, "tolerated_failure_percentage"?}``: list the prefix
  (default ``originals/{group_id}/``), call the digest handler with Distributed Map item
  batches (``{"Items": [{"Key", "Size"}], "BatchInput": {"job_id", "force"}}``) at most
  ``max_concurrency`` at a time, retry a failed batch (like the map's ``Retry``), count items
  of batches that still fail as failed, stop if they are more than
  ``tolerated_failure_percentage`` of the items (undecodable photos are not: digest marks
  them failed and succeeds, as in the map), then call the cluster handler with
  ``{"group_id", "job_id"}``.
- ``cluster`` — the cluster handler with the payload.
- ``zip`` — the zip handler with the payload (``{"job_id"}``).
- ``reprocess`` — payload ``{"job_id", "group_id", "items_key", "batch_size"?,
  "max_concurrency"?}``: job running, then the curation handler with batches of the ids in
  ``items_key`` (``{"Items": [ids], "BatchInput": {"workflow", "job_id", "group_id"}}``), then
  its ``finish`` step.
- ``delete_group`` — payload ``{"job_id", "group_id", ...}``: the curation handler's ``plan``
  step (it writes the photo ids and returns their ``items_key``), batches of those ids, then
  ``finish``.

Batch sizes and the tolerated failure percentage of ``reprocess`` and ``delete_group`` are
read from their ASL files (the map's ``ItemBatcher`` and ``ToleratedFailurePercentage``);
concurrency is the ASL's ``MaxConcurrency`` capped at :data:`DEFAULT_MAX_CONCURRENCY`.

Job progress (``total``, ``done``, ``failed``, ``status``) is written to the job item when the
payload names a ``job_id``. Executions run on a thread pool; :meth:`wait` blocks on one.

Why one module of about 430 lines: it mirrors the five state machines step by step with one
shared job bookkeeping; a file per workflow would repeat it.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from findme.config import REPO_ROOT, Settings, get_settings
from findme.domain.keys import KeyScheme
from findme.domain.records import JobStatus, utcnow
from findme.errors import FindMeError, InvalidInputError
from findme.observability import logger
from findme.ports import MetadataStore, ObjectStore
from findme.services.job_files import JobFiles

Handler = Callable[[dict[str, Any], Any], Any]

#: Defaults matching the digest-prefix state machine (ItemBatcher, MaxConcurrency, tolerance).
DEFAULT_BATCH_SIZE = 8
DEFAULT_MAX_CONCURRENCY = 2
DEFAULT_TOLERATED_FAILURE_PERCENTAGE = 10.0
#: Attempts per batch (1 + retries), like the map's ``Retry`` with ``MaxAttempts: 2``.
BATCH_ATTEMPTS = 3
#: Finished executions remembered for :meth:`InProcessOrchestrator.wait`.
MAX_KEPT_EXECUTIONS = 1000
#: The state machines' definitions (``findme/workflows/<workflow>.asl.json``).
WORKFLOWS_DIR = REPO_ROOT / "functions" / "findme" / "workflows"

_handlers_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class LocalContext:
    """The Lambda context attributes Powertools reads, for in-process invocations."""

    function_name: str
    aws_request_id: str
    memory_limit_in_mb: int = 3008
    invoked_function_arn: str = "arn:aws:lambda:local:000000000000:function:findme"
    log_group_name: str = "local"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def handler_module(function: str) -> ModuleType:
    """``functions/{function}/handler.py`` imported once as ``findme_lambda_{function}``."""
    name = f"findme_lambda_{function}"
    with _handlers_lock:
        module = sys.modules.get(name)
        if module is None:
            path = REPO_ROOT / "functions" / function / "handler.py"
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise InvalidInputError(f"no handler at {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
    return module


def load_handler(function: str) -> Handler:
    """The Lambda entry point ``handler`` of ``functions/{function}/handler.py``."""
    handler: Handler = handler_module(function).handler
    return handler


def invoke(function: str, event: dict[str, Any]) -> Any:
    """Call a Lambda handler in-process, as Lambda would (event, context)."""
    context = LocalContext(function_name=f"findme-{function}", aws_request_id=str(uuid.uuid4()))
    return load_handler(function)(event, context)


class InProcessOrchestrator:
    """Runs workflows on a thread pool; ``start`` returns an execution id at once."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store: ObjectStore | None = None,
        metadata: MetadataStore | None = None,
        store_factory: Callable[[], ObjectStore] | None = None,
        metadata_factory: Callable[[], MetadataStore] | None = None,
        max_workflows: int = 2,
    ) -> None:
        """Args:
        settings: default: the process's (:func:`~findme.config.get_settings`, read on use).
        store, metadata: the stores the workflows list and update jobs in; else
            ``store_factory()``/``metadata_factory()`` on each use (the composition root's
            cached adapters, :mod:`findme.wiring`); else adapters built from ``settings``
            once.
        max_workflows: workflows run at once (threads).
        """
        self._settings = settings
        self._store = store
        self._metadata = metadata
        self._store_factory = store_factory
        self._metadata_factory = metadata_factory
        self._pool = ThreadPoolExecutor(max_workers=max_workflows, thread_name_prefix="workflow")
        self._executions: dict[str, Future[dict[str, Any]]] = {}
        self._workflows: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "digest_prefix": self._digest_prefix,
            "cluster": lambda payload: _as_dict(invoke("cluster", payload)),
            "zip": lambda payload: _as_dict(invoke("zip", payload)),
            # curation worker (docs/compatibility.md): functions/curation/handler.py
            "reprocess": self._reprocess,
            "delete_group": self._delete_group,
        }

    # --- ports.Orchestrator ------------------------------------------------------------------
    def start(self, workflow: str, payload: dict[str, Any]) -> str:
        """Start ``workflow`` in the background -> execution id.

        Raises:
            InvalidInputError: unknown workflow.
        """
        run = self._workflows.get(workflow)
        if run is None:
            raise InvalidInputError(f"unknown workflow {workflow!r}", workflow=workflow)
        execution_id = f"local:{workflow}:{payload.get('job_id') or uuid.uuid4()}"
        if len(self._executions) > MAX_KEPT_EXECUTIONS:  # a long-running server: forget old ones
            for old in [k for k, f in self._executions.items() if f.done()]:
                del self._executions[old]
        self._executions[execution_id] = self._pool.submit(self._run, workflow, run, payload)
        return execution_id

    def wait(self, execution_id: str, timeout_s: float | None = None) -> dict[str, Any]:
        """Block until an execution ends -> its output; re-raises its error."""
        return self._executions[execution_id].result(timeout=timeout_s)

    def run(self, workflow: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Run ``workflow`` in the calling thread (CLI, tests) -> its output."""
        return self.wait(self.start(workflow, payload))

    def shutdown(self, *, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=not wait)

    # --- steps ---------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        return self._settings or get_settings()

    @property
    def store(self) -> ObjectStore:
        if self._store is not None:
            return self._store
        if self._store_factory is not None:
            return self._store_factory()
        from findme.adapters.s3 import S3ObjectStore

        self._store = S3ObjectStore(self.settings)
        return self._store

    @property
    def metadata(self) -> MetadataStore:
        if self._metadata is not None:
            return self._metadata
        if self._metadata_factory is not None:
            return self._metadata_factory()
        from findme.adapters.dynamodb import DynamoMetadataStore

        self._metadata = DynamoMetadataStore(self.settings)
        return self._metadata

    def _run(
        self,
        workflow: str,
        run: Callable[[dict[str, Any]], dict[str, Any]],
        payload: dict[str, Any],
    ) -> dict[str, Any]:
        job_id = payload.get("job_id")
        try:
            return run(payload)
        except Exception as exc:
            logger.exception("workflow failed", extra={"workflow": workflow, "job_id": job_id})
            if job_id:
                self._safe_update_job(
                    job_id, status=JobStatus.FAILED, error=_reason(exc), updated_at=utcnow()
                )
            raise

    def _digest_prefix(self, payload: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        job_id: str | None = payload.get("job_id")
        group_id: str | None = payload.get("group_id")
        keys = KeyScheme.from_settings(self.settings)
        prefix = payload.get("prefix") or (keys.group_originals(group_id) if group_id else None)
        if not prefix:
            raise InvalidInputError("digest_prefix needs a group_id or a prefix")
        items = [
            {"Key": o.key, "Size": o.size_bytes}
            for o in self.store.list(prefix)
            if keys.is_original(o.key)
        ]
        if job_id:
            self.metadata.update_job(
                job_id,
                status=JobStatus.RUNNING,
                total=len(items),
                done=0,
                failed=0,
                updated_at=utcnow(),
            )
        run = self._run_map(
            "digest",
            items,
            {"job_id": job_id, "force": bool(payload.get("force", False))},
            job_id=job_id,
            batch_size=int(payload.get("batch_size") or DEFAULT_BATCH_SIZE),
            concurrency=int(payload.get("max_concurrency") or DEFAULT_MAX_CONCURRENCY),
            tolerated=float(
                payload.get("tolerated_failure_percentage", DEFAULT_TOLERATED_FAILURE_PERCENTAGE)
            ),
        )
        totals = {"processed": 0, "failed": run.failed_items, "skipped": 0, "faces": 0}
        for summary in run.outputs:
            for name in totals:
                totals[name] += int(summary.get(name, 0))
        output: dict[str, Any] = {
            "prefix": prefix,
            "total": len(items),
            **totals,
            "failed_batches": run.failed_batches,
            "failed_batch_items": run.failed_items,
        }
        run.check_tolerance(output)
        if group_id and payload.get("cluster", True):
            output["cluster"] = _as_dict(
                invoke("cluster", {"group_id": group_id, "job_id": job_id})
            )
        output["seconds"] = round(time.perf_counter() - started, 2)
        if job_id:
            self.metadata.update_job(
                job_id, status=JobStatus.SUCCEEDED, result=output, updated_at=utcnow()
            )
        return output

    def _reprocess(self, payload: dict[str, Any]) -> dict[str, Any]:
        """``reprocess.asl.json``: job running, the map over ``items_key``, finish."""
        job_id = str(payload["job_id"])
        files = JobFiles(self.store, KeyScheme.from_settings(self.settings), job_id)
        ids = files.read_items(payload.get("items_key"))
        self.metadata.update_job(job_id, status=JobStatus.RUNNING, updated_at=utcnow())
        return self._curation_map("reprocess", "ReprocessImages", payload, ids)

    def _delete_group(self, payload: dict[str, Any]) -> dict[str, Any]:
        """``delete_group.asl.json``: plan (vectors, id list), the map over the ids, finish."""
        job_id, group_id = str(payload["job_id"]), str(payload["group_id"])
        plan = _as_dict(
            invoke(
                "curation",
                {
                    "workflow": "delete_group",
                    "step": "plan",
                    "job_id": job_id,
                    "group_id": group_id,
                },
            )
        )
        files = JobFiles(self.store, KeyScheme.from_settings(self.settings), job_id)
        ids = files.read_items(plan["items_key"])
        return self._curation_map("delete_group", "DeleteImages", payload, ids)

    def _curation_map(
        self, workflow: str, state: str, payload: dict[str, Any], ids: list[str]
    ) -> dict[str, Any]:
        """The curation map of ``workflow`` (ASL state ``state``) over ``ids``, then finish."""
        batch_size, concurrency, tolerated = map_settings(workflow, state)
        batch_input = {
            "workflow": workflow,
            "job_id": payload["job_id"],
            "group_id": payload.get("group_id"),
        }
        run = self._run_map(
            "curation",
            ids,
            batch_input,
            job_id=str(payload["job_id"]),
            batch_size=int(payload.get("batch_size") or batch_size),
            concurrency=int(payload.get("max_concurrency") or concurrency),
            tolerated=tolerated,
        )
        run.check_tolerance({"total": len(ids), "failed_batch_items": run.failed_items})
        return _as_dict(invoke("curation", {**batch_input, "step": "finish"}))

    def _run_map(
        self,
        function: str,
        items: list[Any],
        batch_input: dict[str, Any],
        *,
        job_id: str | None,
        batch_size: int,
        concurrency: int,
        tolerated: float,
    ) -> _MapRun:
        """A Distributed Map: ``function`` gets ``{"Items", "BatchInput"}`` batches, at most
        ``concurrency`` at a time, each tried :data:`BATCH_ATTEMPTS` times; the items of a batch
        that still fails count as failed on the job (the ASL's ``CountFailedItems``)."""
        size = max(1, batch_size)
        batches = [items[i : i + size] for i in range(0, len(items), size)]
        run = _MapRun(total=len(items), tolerated=tolerated)
        with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="map") as pool:
            futures = {
                pool.submit(self._batch, function, {"Items": b, "BatchInput": batch_input}): b
                for b in batches
            }
            for future in as_completed(futures):
                try:
                    run.outputs.append(future.result())
                except Exception:
                    run.failed_batches += 1
                    run.failed_items += len(futures[future])
                    if job_id:
                        self.metadata.add_job_progress(job_id, failed=len(futures[future]))
        return run

    def _batch(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(1, BATCH_ATTEMPTS + 1):
            try:
                return _as_dict(invoke(function, event))
            except Exception:
                if attempt == BATCH_ATTEMPTS:
                    raise
                time.sleep(min(2.0, 0.2 * math.pow(2, attempt)))
        raise AssertionError("unreachable")

    def _safe_update_job(self, job_id: str, **changes: Any) -> None:
        try:
            self.metadata.update_job(job_id, **changes)
        except Exception:
            logger.exception("could not update job", extra={"job_id": job_id})


def map_settings(workflow: str, state: str) -> tuple[int, int, float]:
    """``(MaxItemsPerBatch, MaxConcurrency capped at DEFAULT_MAX_CONCURRENCY,
    ToleratedFailurePercentage)`` of the Map state ``state`` in ``workflow``'s ASL file."""
    definition = json.loads((WORKFLOWS_DIR / f"{workflow}.asl.json").read_text())
    map_state = definition["States"][state]
    return (
        int(map_state["ItemBatcher"]["MaxItemsPerBatch"]),
        min(int(map_state["MaxConcurrency"]), DEFAULT_MAX_CONCURRENCY),
        float(map_state.get("ToleratedFailurePercentage", 0)),
    )


@dataclass(slots=True)
class _MapRun:
    """Outcome of :meth:`InProcessOrchestrator._run_map`."""

    total: int
    tolerated: float
    outputs: list[dict[str, Any]] = field(default_factory=list)
    failed_batches: int = 0
    failed_items: int = 0

    def check_tolerance(self, output: dict[str, Any]) -> None:
        """Raise as the map does (``States.ExceedToleratedFailureThreshold``) when the items of
        batches that failed after their retries are more than ``tolerated`` percent. A photo
        that is permanently undecodable is a succeeded item (the worker marked it failed)."""
        if self.total and self.failed_items * 100.0 / self.total > self.tolerated:
            raise _ToleranceExceededError(
                f"{self.failed_items} of {self.total} items failed after retries "
                f"(more than {self.tolerated:g} % tolerated)",
                **output,
            )


class _ToleranceExceededError(FindMeError):
    """More items failed than tolerated (the map's ``States.ExceedToleratedFailureThreshold``)."""

    code = "tolerated_failure_exceeded"


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {"result": value}


def _reason(exc: Exception) -> str:
    return f"{getattr(exc, 'code', type(exc).__name__)}: {exc}"[:500]
