"""The FastAPI worker: spawn and stop agents, message them, install packs, run jobs, stream events.

Start with ``uvicorn conductor.worker.app:create_app --factory``. One spawner, one bus, one job queue per
process; state lives in memory and is rebuilt from packs and requests after a restart.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
from typing import AsyncIterator

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import StreamingResponse

from conductor.agents.patterns import PATTERN_AGENTS
from conductor.agents.registry import default_registry
from conductor.agents.spawner import SpawnError, Spawner
from conductor.agents.supervisor import Restart, RestartPolicy
from conductor.events.bus import EventBus, Overflow
from conductor.events.models import Event
from conductor.events.store import EventLog
from conductor.packs.loader import PackLoadError, PackManager
from conductor.packs.resolver import ResolutionError
from conductor.worker.jobs import JobQueue, QueueFull
from conductor.worker.schemas import AgentOut, InstallRequest, JobIn, JobOut, MessageIn, SpawnRequest
from conductor.worker.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        bus = EventBus()
        registry = default_registry(PATTERN_AGENTS)
        packs = PackManager(settings.pack_dir, registry)
        spawner = Spawner(bus, registry, max_agents=settings.max_agents, skills={})
        log = EventLog(capacity=5_000)
        bus.subscribe("#", log.record, name="event-log", overflow=Overflow.DROP_OLDEST)

        async def run_pipeline(params: dict) -> dict:
            event = Event(topic="pipeline.run", payload=params.get("input", {}), source="jobs")
            reply = await bus.request(event, "pipeline.done", timeout=float(params.get("timeout", 30)))
            return dict(reply.payload)

        jobs = JobQueue({"pipeline": run_pipeline}, workers=settings.job_workers,
                        max_queued=settings.job_queue_size)
        app.state.__dict__.update(bus=bus, spawner=spawner, packs=packs, jobs=jobs, log=log)
        try:
            yield
        finally:
            await jobs.shutdown()
            await spawner.stop_all()
            await bus.close()

    app = FastAPI(title="agent-hub worker", version="0.4.2", lifespan=lifespan)

    @app.get("/health")
    async def health(request: Request) -> dict:
        s = request.app.state
        return {"ok": True, "agents": len(s.spawner.list()), "events": len(s.log), "bus": s.bus.stats()}

    @app.get("/agents", response_model=list[AgentOut])
    async def list_agents(request: Request) -> list[dict]:
        return request.app.state.spawner.list()

    @app.post("/agents", response_model=AgentOut, status_code=201)
    async def spawn_agent(body: SpawnRequest, request: Request) -> dict:
        spawner: Spawner = request.app.state.spawner
        spawner.skills.update(request.app.state.packs.skills())
        try:
            await spawner.spawn(body.kind, body.name, body.config, RestartPolicy(restart=Restart(body.restart)))
        except SpawnError as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from None
        return next(a for a in spawner.list() if a["name"] == body.name)

    @app.delete("/agents/{name}", status_code=204)
    async def stop_agent(name: str, request: Request) -> None:
        try:
            await request.app.state.spawner.stop(name)
        except SpawnError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None

    @app.post("/agents/{name}/messages", status_code=202)
    async def message_agent(name: str, body: MessageIn, request: Request) -> dict:
        try:
            event = await request.app.state.spawner.send(name, body.topic, **body.payload)
        except SpawnError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None
        return {"event_id": event.id}

    @app.post("/packs/install")
    async def install_packs(body: InstallRequest, request: Request) -> dict:
        try:
            loaded = request.app.state.packs.install(body.packs)
        except (ResolutionError, PackLoadError) as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
        return {"installed": [p.manifest.key for p in loaded]}

    @app.post("/jobs", response_model=JobOut, status_code=202)
    async def submit_job(body: JobIn, request: Request) -> dict:
        try:
            job = request.app.state.jobs.submit(body.kind, body.params)
        except KeyError as exc:
            raise HTTPException(status_code=400, detail=str(exc)) from None
        except QueueFull as exc:
            raise HTTPException(status_code=503, detail=str(exc)) from None
        return job.to_dict()

    @app.get("/jobs/{job_id}", response_model=JobOut)
    async def get_job(job_id: str, request: Request) -> dict:
        job = request.app.state.jobs.get(job_id)
        if job is None:
            raise HTTPException(status_code=404, detail=f"no job {job_id}")
        return job.to_dict()

    @app.get("/events")
    async def stream_events(request: Request, pattern: str = "#", since: int = 0) -> StreamingResponse:
        """Server-sent events: first the log since `since`, then live events as they are published."""
        bus: EventBus = request.app.state.bus
        queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=256)

        async def forward(event: Event) -> None:
            await queue.put(event)

        async def body() -> AsyncIterator[str]:
            sub = bus.subscribe(pattern, forward, name="sse", overflow=Overflow.DROP_OLDEST)
            try:
                for event in request.app.state.log.since(since, pattern):
                    yield f"id: {event.sequence}\ndata: {json.dumps(event.to_dict())}\n\n"
                while not await request.is_disconnected():
                    try:
                        event = await asyncio.wait_for(queue.get(), timeout=15)
                    except asyncio.TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    yield f"id: {event.sequence}\ndata: {json.dumps(event.to_dict())}\n\n"
            finally:
                await bus.unsubscribe(sub, drain=False)

        return StreamingResponse(body(), media_type="text/event-stream")

    return app
