"""Reading articles from a POST /documents request: a JSON list, or uploaded files.

Files come in the form field ``files``; a file in another field is skipped with a reason, and
a form without ``files`` is a 422. Every article is loaded within ``rag.articles.limits`` (pages are
parsed in a worker process with a deadline), in a worker thread: the event loop never parses.
"""

from __future__ import annotations

import re
import tempfile
import unicodedata
from dataclasses import astuple
from pathlib import Path

from fastapi import Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.schemas import ArticleIn
from rag import jsonio
from rag.articles.limits import Limits
from rag.articles.loading import SUPPORTED_SUFFIXES, article_from_record, load_file
from rag.errors import InputError, RagError
from rag.models import Article

MAX_ARTICLES_PER_REQUEST = 1000
MAX_FILE_NAME_CHARS = 200  # the longest document id
MAX_FILE_NAME_BYTES = 255  # NAME_MAX: a longer name cannot be written to a temporary file
FILES_FIELD = "files"  # the form field the README names
# Browsers and httpx send a control character in a file name as %XX (%0A, %0D, %01 ...).
_ESCAPED_CONTROL = re.compile(r"%(?:[01][0-9A-Fa-f]|7[Ff])")
# Bidirectional controls show a name other than the one stored ("txt.exe" as "exe.txt").
_BIDI_CONTROLS = frozenset(
    [
        "\u061c",
        "\u200e",
        "\u200f",
        *map(chr, range(0x202A, 0x202F)),
        *map(chr, range(0x2066, 0x206A)),
    ]
)


async def articles_from_request(request: Request) -> tuple[list[Article], list[str]]:
    """Articles in the request, and a reason for each file or record that was skipped."""
    content_type = request.headers.get("content-type", "")
    limits = Limits.of(request.app.state.settings)
    if content_type.startswith("multipart/form-data"):
        articles, skipped = await _from_files(request, limits)
    elif content_type.split(";")[0].strip() in ("application/json", ""):
        body = await request.body()
        articles, skipped = await run_in_threadpool(_from_json, body, limits), []
    else:
        raise InputError(
            f"unsupported content type {content_type!r}: send application/json "
            "or multipart/form-data"
        )
    usable = []
    for article in articles:
        problem = _unencodable(article)
        if problem:
            skipped.append(f"{_shown(article.doc_id)}: {problem}")
        else:
            usable.append(article)
    return usable, skipped


def _unencodable(article: Article) -> str | None:
    """Why an article's text cannot be stored (lone surrogates from JSON escapes), or None."""
    for value in astuple(article):
        for text in value if isinstance(value, tuple) else (value,):
            if isinstance(text, str):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    return "text is not valid Unicode (a lone surrogate)"
    return None


def _shown(name: str) -> str:
    """A name as it can be shown in a reply (unencodable characters replaced)."""
    return name.encode("utf-8", "replace").decode("utf-8")[:MAX_FILE_NAME_CHARS]


def _from_json(raw: bytes, limits: Limits) -> list[Article]:
    try:
        data = jsonio.loads(raw)
    except ValueError:
        raise InputError("the body is not valid JSON") from None
    records = data.get("articles") if isinstance(data, dict) else data
    if not isinstance(records, list) or not records:
        raise InputError("send a non-empty JSON list of articles {id, title, text, ...}")
    if len(records) > MAX_ARTICLES_PER_REQUEST:
        raise InputError(f"at most {MAX_ARTICLES_PER_REQUEST} articles per request")
    articles = []
    for i, record in enumerate(records):
        try:
            ArticleIn.model_validate(record)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InputError(f"article {i}: {where}: {first['msg']}") from None
        articles.append(article_from_record(record, where=f"article {i}", limits=limits))
    return articles


async def _from_files(request: Request, limits: Limits) -> tuple[list[Article], list[str]]:
    form = await request.form(max_files=100)
    articles: list[Article] = []
    skipped: list[str] = []
    uploads = []
    for field, value in form.multi_items():
        if field == FILES_FIELD and isinstance(value, UploadFile):
            uploads.append(value)
        elif isinstance(value, UploadFile):
            skipped.append(f"{_shown(value.filename or '')}: not in the form field 'files'")
    if not uploads:
        raise InputError(f"no files in the upload (use the form field '{FILES_FIELD}')")
    for upload in uploads:
        given = upload.filename or "upload.txt"
        name = Path(given).name
        problem = _bad_file_name(given, name)
        if problem:
            skipped.append(f"{_shown(name)}: {problem}")
            continue
        data = await upload.read()
        loaded, warnings = await run_in_threadpool(_load_upload, name, data, limits)
        articles.extend(loaded)
        skipped.extend(warnings)
    return articles, skipped


def _load_upload(name: str, data: bytes, limits: Limits) -> tuple[list[Article], list[str]]:
    """The articles of one uploaded file, and its warnings (named by the file, not the path)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        warnings: list[str] = []
        articles: list[Article] = []
        try:
            articles = load_file(path, warnings, limits)
        except RagError as exc:
            warnings.append(f"{name}: {exc.message}")
        return articles, [w.replace(str(path), name) for w in warnings]


def _bad_file_name(given: str, name: str) -> str | None:
    """Why an uploaded file's name cannot be a document id, or None (``given``: as sent,
    folders included; ``name``: its last part)."""
    if (
        len(name) > MAX_FILE_NAME_CHARS
        or len(name.encode("utf-8", "replace")) > MAX_FILE_NAME_BYTES
    ):
        return f"file name longer than {MAX_FILE_NAME_CHARS} characters"
    if name in ("", ".", ".."):
        return "file name is empty"
    if _ESCAPED_CONTROL.search(given) or any(
        unicodedata.category(c) in ("Cc", "Cs") or c in _BIDI_CONTROLS for c in given
    ):
        return "file name has control characters"
    if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        return "unsupported file type"
    return None
