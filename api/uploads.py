"""Reading articles from a POST /documents request: a JSON list, or uploaded files."""

from __future__ import annotations

import tempfile
import unicodedata
from dataclasses import astuple
from pathlib import Path

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from api.schemas import ArticleIn
from rag import jsonio
from rag.articles import SUPPORTED_SUFFIXES, article_from_record, load_file
from rag.errors import InputError, RagError
from rag.models import Article

MAX_ARTICLES_PER_REQUEST = 1000
MAX_FILE_NAME_CHARS = 200  # the longest document id
MAX_FILE_NAME_BYTES = 255  # NAME_MAX: a longer name cannot be written to a temporary file


async def articles_from_request(request: Request) -> tuple[list[Article], list[str]]:
    """Articles in the request, and a reason for each file or record that was skipped."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        articles, skipped = await _from_files(request)
    elif content_type.split(";")[0].strip() in ("application/json", ""):
        articles, skipped = _from_json(await request.body()), []
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


def _from_json(raw: bytes) -> list[Article]:
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
        articles.append(article_from_record(record, where=f"article {i}"))
    return articles


async def _from_files(request: Request) -> tuple[list[Article], list[str]]:
    form = await request.form(max_files=100)
    articles: list[Article] = []
    skipped: list[str] = []
    uploads = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
    if not uploads:
        raise InputError("no files in the upload (use the form field 'files')")
    for upload in uploads:
        name = Path(upload.filename or "upload.txt").name
        problem = _bad_file_name(name)
        if problem:
            skipped.append(f"{_shown(name)}: {problem}")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_bytes(await upload.read())
            warnings: list[str] = []
            try:
                articles.extend(load_file(path, warnings))
            except RagError as exc:
                warnings.append(f"{name}: {exc.message}")
            skipped.extend(w.replace(str(path), name) for w in warnings)
    return articles, skipped


def _bad_file_name(name: str) -> str | None:
    """Why an uploaded file's name cannot be a document id, or None."""
    if (
        len(name) > MAX_FILE_NAME_CHARS
        or len(name.encode("utf-8", "replace")) > MAX_FILE_NAME_BYTES
    ):
        return f"file name longer than {MAX_FILE_NAME_CHARS} characters"
    if name in ("", ".", "..") or any(unicodedata.category(c) in ("Cc", "Cs") for c in name):
        return "file name is empty or has control characters"
    if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        return "unsupported file type"
    return None
