"""An async job queue with a fixed pool of worker tasks, job states, and cancellation."""
from __future__ import annotations

import asyncio
import enum
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

JobFn = Callable[[dict[str, Any]], Awaitable[Any]]


class JobStatus(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass
class Job:
    kind: str
    params: dict[str, Any]
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    status: JobStatus = JobStatus.QUEUED
    result: Any = None
    error: str | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    _task: asyncio.Task | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "status": self.status.value, "result": self.result,
                "error": self.error, "created": self.created, "started": self.started, "finished": self.finished,
                "duration": (self.finished - self.started) if self.started and self.finished else None}


class QueueFull(Exception):
    pass


class JobQueue:
    def __init__(self, handlers: dict[str, JobFn], workers: int = 4, max_queued: int = 1000,
                 timeout: float = 300.0, keep_finished: int = 500):
        self.handlers = handlers
        self.timeout = timeout
        self.keep_finished = keep_finished
        self._queue: asyncio.Queue[Job] = asyncio.Queue(maxsize=max_queued)
        self._jobs: dict[str, Job] = {}
        self._workers = [asyncio.create_task(self._work(i), name=f"job-worker-{i}") for i in range(workers)]

    def submit(self, kind: str, params: dict[str, Any]) -> Job:
        if kind not in self.handlers:
            raise KeyError(f"unknown job kind {kind!r}")
        job = Job(kind=kind, params=params)
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            raise QueueFull(f"{self._queue.qsize()} jobs already queued") from None
        self._jobs[job.id] = job
        self._trim()
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def list(self, status: JobStatus | None = None) -> list[Job]:
        jobs = sorted(self._jobs.values(), key=lambda j: j.created, reverse=True)
        return [j for j in jobs if status is None or j.status is status]

    def cancel(self, job_id: str) -> bool:
        job = self._jobs.get(job_id)
        if job is None or job.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
            return False
        if job._task is not None:
            job._task.cancel()
        job.status = JobStatus.CANCELLED  # a queued job is skipped when a worker picks it up
        job.finished = time.time()
        return True

    async def wait(self, job_id: str, poll: float = 0.02) -> Job:
        job = self._jobs[job_id]
        while job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
            await asyncio.sleep(poll)
        return job

    async def shutdown(self) -> None:
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)

    async def _work(self, index: int) -> None:
        while True:
            job = await self._queue.get()
            try:
                if job.status is JobStatus.CANCELLED:
                    continue
                await self._run(job)
            finally:
                self._queue.task_done()

    async def _run(self, job: Job) -> None:
        job.status, job.started = JobStatus.RUNNING, time.time()
        job._task = asyncio.create_task(self.handlers[job.kind](job.params))
        try:
            job.result = await asyncio.wait_for(job._task, self.timeout)
            job.status = JobStatus.SUCCEEDED
        except asyncio.CancelledError:
            job.status = JobStatus.CANCELLED
        except asyncio.TimeoutError:
            job.status, job.error = JobStatus.FAILED, f"timed out after {self.timeout}s"
        except Exception as exc:
            job.status, job.error = JobStatus.FAILED, f"{type(exc).__name__}: {exc}"
        finally:
            job.finished = time.time()
            job._task = None

    def _trim(self) -> None:
        """Forget the oldest finished jobs beyond `keep_finished`; queued and running ones are always kept."""
        done = sorted((j for j in self._jobs.values() if j.status not in (JobStatus.QUEUED, JobStatus.RUNNING)),
                      key=lambda j: j.created)
        for job in done[:max(0, len(done) - self.keep_finished)]:
            self._jobs.pop(job.id, None)
