"""GET /metrics: the Prometheus endpoint (workers/metrics.py). Counts and seconds only, no
personal value; serve it to the monitoring network, not to the public."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from workers.metrics import KuraCollector

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(KuraCollector(request.app.state.settings))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
