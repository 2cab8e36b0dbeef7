"""The OpenAPI document is valid and exact: schemathesis fuzzing finds no 5xx, no reply that
breaks the documented schema, no schema-valid request refused and no schema-violating request
accepted (a bounded number of examples per operation, valid and invalid input, hash embedder,
in-process).

The same run from the command line, against a server on port 8000:
``schemathesis run http://127.0.0.1:8000/openapi.json --checks all --continue-on-failure``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from api import create_app
from rag.articles.loading import article_from_record
from rag.engine import Engine
from rag.runtime.embedding import HashEmbedder
from rag.settings import Settings

EXAMPLES_PER_OPERATION = 30  # ~15 s in all on 2 cores; 150 (60 s) found nothing more
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    status_code_conformance,
    positive_data_acceptance,
    negative_data_rejection,
]
# What "accepted" and "refused" mean here. Valid input may still meet a missing document (404),
# a spent budget (429) or a conflict (409), never a 5xx or a 4xx about the input itself;
# invalid input is refused with a 4xx naming it (413: a question over RAG_MAX_QUESTION_CHARS).
STRICT = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409", "429"]},
            "negative_data_rejection": {"expected-statuses": ["400", "404", "413", "422"]},
        }
    }
)
# Whether an uploaded file or a fetched page holds a usable article is not a property of the
# request's shape, so a schema-valid POST /documents may still be refused for its content.
CONTENT_REFUSALS = ("no usable articles", "fetch_failed", "fetch_refused")
ARTICLES = [
    {
        "id": "wombats",
        "title": "Wombat census",
        "date": "2024-05-03",
        "source": "wire",
        "text": "A census found 1,204 wombats in Tasmania, the ranger Jane Doyle said on Friday.",
    },
    {
        "id": "aukus",
        "title": "AUKUS and Japan",
        "text": "Albanese said Japan is a natural candidate for the second pillar of AUKUS.",
    },
]


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    settings = Settings(index_dir=tmp_path / "index", rate_limit_per_minute=0)
    engine = Engine(settings, HashEmbedder())
    engine.ingest([article_from_record(a) for a in ARTICLES])
    return create_app(settings, engine)


def test_the_openapi_document_is_valid(app: FastAPI) -> None:
    spec = app.openapi()
    validate(spec)  # raises on a dangling $ref or any other schema error
    body = spec["paths"]["/documents"]["post"]["requestBody"]["content"]["application/json"]
    assert '"text"' in json.dumps(body["schema"])  # the article list is described, so fuzzed


def test_fuzzing_finds_no_server_error_and_no_schema_violation(app: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=STRICT)
    results = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results)  # every operation parsed
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) >= 8
    for operation in operations:
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @given(case=cases)
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            response = case.call()
            if _refused_for_content(case, response):
                return
            case.validate_response(response, checks=CHECKS)

        fuzz()


def _refused_for_content(case: schemathesis.Case, response: object) -> bool:
    """A POST /documents refused for what its files or its URL hold (a 422 naming that)."""
    text = getattr(response, "text", "")
    return (
        case.operation.label == "POST /documents"
        and getattr(response, "status_code", 0) == 422
        and any(reason in text for reason in CONTENT_REFUSALS)
    )


def test_the_document_carries_the_servers_limits(app: FastAPI) -> None:
    """Lengths, ranges and patterns a generated client needs: the question's non-blank
    pattern and length limit, top_k's range, the cursor's alphabet, the date formats."""
    spec = app.openapi()
    ask = spec["components"]["schemas"]["AskRequest"]["properties"]
    assert ask["question"]["minLength"] == 1 and ask["question"]["maxLength"] == 1000
    assert ask["question"]["pattern"]
    assert {"minimum": 1, "maximum": 50}.items() <= ask["top_k"]["anyOf"][0].items()
    params = {p["name"]: p["schema"] for p in spec["paths"]["/search"]["get"]["parameters"]}
    assert params["q"]["maxLength"] == 1000 and params["top_k"]["anyOf"][0]["maximum"] == 50
    formats = json.dumps(params["date_from"])
    assert '"date"' in formats and '"date-time"' in formats
    listing = spec["paths"]["/documents"]["get"]["parameters"]
    assert any(p["name"] == "cursor" and "pattern" in json.dumps(p) for p in listing)


@pytest.mark.parametrize("url", ["http://example.org:99999/feed", "HTTP://news.example:\x1a/"])
def test_a_url_with_a_bad_port_is_refused_not_a_server_error(app: FastAPI, url: str) -> None:
    """Found by the fuzzing above: urllib raises on reading such a port."""
    from fastapi.testclient import TestClient

    response = TestClient(app).post("/documents", json={"url": url})
    assert response.status_code == 422 and response.json()["error"]["code"] == "fetch_refused"


def test_an_article_text_the_schema_accepts_is_one_the_loader_accepts(app: FastAPI) -> None:
    """Found by the fuzzing above: a text of one ASCII separator (\\x1f) passed the schema's
    ``minLength`` and was refused as blank. The schema's pattern and the loader's check agree on
    every character, and such a text is refused by both."""
    import re
    import sys

    from fastapi.testclient import TestClient

    body = app.openapi()["paths"]["/documents"]["post"]["requestBody"]["content"]
    records = body["application/json"]["schema"]["oneOf"][0]["items"]
    pattern = re.compile(records["properties"]["text"]["pattern"])
    blank = [chr(c) for c in range(sys.maxunicode + 1) if not pattern.search(chr(c))]
    assert blank == [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    response = TestClient(app).post("/documents", json=[{"id": "a", "text": "\x1f "}])
    assert response.status_code == 422 and "'text'" in response.json()["error"]["message"]
