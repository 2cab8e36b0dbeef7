"""Reading articles from a POST /documents request: a JSON list, or uploaded files."""

from __future__ import annotations

import tempfile
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


async def articles_from_request(request: Request) -> tuple[list[Article], list[str]]:
    """Articles in the request, and a reason for each file or record that was skipped."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        return await _from_files(request)
    if content_type.split(";")[0].strip() in ("application/json", ""):
        return _from_json(await request.body()), []
    raise InputError(f"unsupported content type {content_type!r}: send application/json or "
                     "multipart/form-data")


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
        if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
            skipped.append(f"{name}: unsupported file type")
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
