"""Reading articles from a POST /documents request: a JSON list, or uploaded files.

Files come in the form field ``files``; a file in another field is skipped with a reason, and
a form without ``files`` is a 422. This module checks what is HTTP's (the content type, form
fields, file names, the JSON schema) and hands the bytes and records to the engine
(``Engine.load_upload``, ``Engine.load_records``), which reads them as it reads files, within
the article limits, in a worker thread: the event loop never parses.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import astuple
from pathlib import Path

from fastapi import Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.schemas import ArticleIn
from rag import jsonio
from rag.engine import Engine
from rag.errors import InputError
from rag.models import Article

MAX_ARTICLES_PER_REQUEST = 1000
MAX_FILE_NAME_CHARS = 200  # the longest document id
MAX_FILE_NAME_BYTES = 255  # NAME_MAX: no file on a disk has a longer name
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


async def articles_from_request(
    request: Request, engine: Engine
) -> tuple[list[Article], list[str]]:
    """Articles in the request, and a reason for each file or record that was skipped."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        articles, skipped = await _from_files(request, engine)
    elif content_type.split(";")[0].strip() in ("application/json", ""):
        records = _records(await request.body())
        articles, skipped = await run_in_threadpool(engine.load_records, records), []
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


def _records(raw: bytes) -> list[object]:
    """The article records of a JSON body, each checked against the API's schema."""
    try:
        data = jsonio.loads(raw)
    except ValueError:
        raise InputError("the body is not valid JSON") from None
    records = data.get("articles") if isinstance(data, dict) else data
    if not isinstance(records, list) or not records:
        raise InputError("send a non-empty JSON list of articles {id, title, text, ...}")
    if len(records) > MAX_ARTICLES_PER_REQUEST:
        raise InputError(f"at most {MAX_ARTICLES_PER_REQUEST} articles per request")
    for i, record in enumerate(records):
        try:
            ArticleIn.model_validate(record)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise InputError(f"article {i}: {where}: {first['msg']}") from None
    return records


async def _from_files(request: Request, engine: Engine) -> tuple[list[Article], list[str]]:
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
        loaded = await run_in_threadpool(engine.load_upload, name, data)
        articles.extend(loaded.articles)
        skipped.extend(loaded.warnings)
    return articles, skipped


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
    return None  # an unsupported type is the engine's to say
