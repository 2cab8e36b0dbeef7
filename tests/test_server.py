"""The real server: `rag serve` as a subprocess, over loopback HTTP."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.helpers import ALBANESE

pytestmark = [pytest.mark.server, pytest.mark.model]  # the subprocess loads the real model

ARTICLE = {
    "id": "live-wombats",
    "title": "Wombat census",
    "text": "A census found 1,204 wombats in Tasmania's Narawntapu National Park, the "
    "park ranger Jane Doyle told reporters on Friday.",
    "date": "2024-05-03",
    "source": "wire",
}


def test_serve_answers_and_ingests_under_concurrent_load(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=60) as client:
        answer = client.post("/ask", json={"question": ALBANESE}).json()
        assert "natural candidate" in answer["citations"][0]["quote"]

        def ask(_: int) -> int:
            return client.post("/ask", json={"question": ALBANESE}).status_code

        with ThreadPoolExecutor(max_workers=21) as pool:
            asks = [pool.submit(ask, i) for i in range(20)]
            ingest = pool.submit(client.post, "/documents", json=[ARTICLE])
            statuses = [f.result() for f in asks]
            ingested = ingest.result()
        assert ingested.status_code == 200 and ingested.json()["added"] == ["live-wombats"]
        assert statuses == [200] * 20

        answer = client.post("/ask", json={"question": "How many wombats did the census find?"})
        assert "1,204 wombats" in answer.json()["citations"][0]["quote"]
