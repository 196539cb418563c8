"""The Prometheus endpoint (issue 12): counts and seconds read from what every process
shares, after a real `kura ingest`, and the broker's retries and queue."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from kura.bench.servers import kura_env, run_kura
from schemas.settings import get_settings
from tests.helpers import settings_from, sign_in
from web.app import create_app
from workers.metrics import count_retry


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "data"
    monkeypatch.setenv("KURA_DATA_DIR", str(folder))
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


def _scraped() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = TestClient(create_app()).get("/metrics")
    assert response.status_code == 200
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples}


def test_metrics_after_an_intake(tmp_path: Path, data_dir: Path) -> None:
    scans = tmp_path / "scans"
    scans.mkdir()
    page = io.BytesIO()
    Image.new("L", (1240, 1754), 255).save(page, "PNG", dpi=(150, 150))
    (scans / "blank.png").write_bytes(page.getvalue())
    (scans / "notes.txt").write_text("not a scan")
    env = kura_env(data_dir=str(data_dir))
    sign_in(env)
    assert run_kura(env, "ingest", str(scans), timeout=300).returncode == 0

    scraped = _scraped()
    assert scraped[("kura_pages", (("kind", "blank"), ("status", "done")))] == 1
    assert scraped[("kura_stage_seconds_count", (("stage", "cleanup"),))] == 1
    assert scraped[("kura_stage_seconds_bucket", (("le", "+Inf"), ("stage", "cleanup")))] == 1
    assert scraped[("kura_queue_depth", (("where", "pages_pending"),))] == 0
    assert scraped[("kura_quarantined_files", (("state", "held"),))] == 1
    assert scraped[("kura_rejected_files", (("code", "unsupported_format"),))] == 1
    assert scraped[("kura_review_rate", ())] == 1.0  # the blank file waits for a person
    assert scraped[("kura_oldest_unverified_seconds", ())] > 0
    assert not any("blank.png" in name or "notes" in name for name, _ in scraped)


def test_retries_and_the_broker_queue(data_dir: Path, redis_url: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KURA_BROKER_URL", redis_url)
    get_settings.cache_clear()
    settings = settings_from({"KURA_DATA_DIR": str(data_dir), "KURA_BROKER_URL": redis_url})
    assert run_kura(kura_env(data_dir=str(data_dir)), "db", "upgrade",
                    timeout=120).returncode == 0
    count_retry(settings, "kura.process_page")
    count_retry(settings, "kura.process_page")
    scraped = _scraped()
    assert scraped[("kura_task_retries_total", (("task", "kura.process_page"),))] == 2
    assert scraped[("kura_broker_queue_depth", (("queue", "celery"),))] == 0
