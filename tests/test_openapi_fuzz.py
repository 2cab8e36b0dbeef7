"""The OpenAPI document is valid, and schemathesis fuzzing finds no 5xx and no reply that breaks
the documented schema (a bounded number of examples per operation, valid and invalid input,
hash embedder, in-process)."""

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
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api import create_app
from rag.articles import article_from_record
from rag.embedding import HashEmbedder
from rag.engine import Engine
from rag.settings import Settings

EXAMPLES_PER_OPERATION = 30  # ~15 s in all on 2 cores; 150 (60 s) found nothing more
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    status_code_conformance,
]
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
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
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
            case.call_and_validate(checks=CHECKS)

        fuzz()
