"""Loading articles from files: .txt, .md, .html, .json and .jsonl."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from rag import jsonio
from rag.errors import InputError, NotFoundError
from rag.models import Article

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl")
MAX_TITLE_CHARS = 150
MAX_ID_CHARS = 200


@dataclass
class LoadResult:
    """Articles read from some paths, and a warning per file or record that was skipped."""

    articles: list[Article] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def load_paths(paths: Iterable[Path]) -> LoadResult:
    """Read every supported file under ``paths`` (files or folders, recursively)."""
    result = LoadResult()
    files = list(_expand(paths))
    if not files:
        raise InputError("no supported files found (expected .txt, .md, .html, .json, .jsonl)")
    for path in files:
        try:
            result.articles.extend(load_file(path, result.warnings))
        except InputError as exc:
            result.warnings.append(f"{path}: {exc.message}")
    return result


def _expand(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if not path.exists():
            raise NotFoundError(f"no such file or folder: {path}")
        if path.is_dir():
            yield from sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.suffix.lower() in SUPPORTED_SUFFIXES:
            yield path
        else:
            raise InputError(f"{path}: unsupported file type {path.suffix or '(none)'}")


def load_file(path: Path, warnings: list[str]) -> list[Article]:
    """Articles from one file; per-record problems in JSON Lines go to ``warnings``."""
    raw = _read_text(path.read_bytes(), str(path))
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return _load_jsonl(raw, str(path), warnings)
    if suffix == ".json":
        return _load_json(raw, str(path))
    if suffix in (".html", ".htm"):
        from rag.html import extract_html

        title, text = extract_html(raw)
        return [text_article(path.name, text, title=title)]
    return [text_article(path.name, raw)]


def _read_text(data: bytes, name: str) -> str:
    if b"\x00" in data[:8192]:
        raise InputError("looks like a binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not valid UTF-8 (byte {exc.start})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def text_article(doc_id: str, text: str, *, title: str | None = None) -> Article:
    """An article from plain text: the title is the first line when it is short."""
    if not text.strip():
        raise InputError("the article has no text")
    if title is None:
        first = text.strip().split("\n", 1)[0].strip()
        title = first if len(first) <= MAX_TITLE_CHARS else _shorten(text)
    return Article(doc_id=_check_id(doc_id), title=title, text=text)


def _shorten(text: str) -> str:
    cut = " ".join(text.split())[:MAX_TITLE_CHARS]
    return cut.rsplit(" ", 1)[0] + "\u2026" if " " in cut else cut


def _load_jsonl(raw: str, name: str, warnings: list[str]) -> list[Article]:
    articles = []
    for lineno, line in enumerate(raw.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            articles.append(article_from_record(jsonio.loads(line)))
        except json.JSONDecodeError as exc:
            warnings.append(f"{name}:{lineno}: not valid JSON ({exc.msg})")
        except InputError as exc:
            warnings.append(f"{name}:{lineno}: {exc.message}")
    if not articles:
        raise InputError("no usable article records")
    return articles


def _load_json(raw: str, name: str) -> list[Article]:
    try:
        data = jsonio.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    records = data if isinstance(data, list) else [data]
    return [article_from_record(r, where=f"record {i}") for i, r in enumerate(records)]


def article_from_record(record: Any, where: str = "record") -> Article:
    """Validate one ``{id, title, text, url?, date?, source?}`` object into an Article."""
    if not isinstance(record, dict):
        raise InputError(f"{where} is not a JSON object")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{where} lacks a non-empty 'text' string")
    doc_id = record.get("id", record.get("doc_id"))
    if doc_id is None or not str(doc_id).strip():
        raise InputError(f"{where} lacks an 'id'")
    title = record.get("title")
    base = text_article(str(doc_id), text, title=str(title) if title else None)
    return Article(
        doc_id=base.doc_id,
        title=base.title,
        text=text,
        url=_optional_str(record, "url", where),
        date=normalize_date(record.get("date"), where),
        source=_optional_str(record, "source", where),
    )


def _optional_str(record: dict[str, Any], key: str, where: str) -> str | None:
    value = record.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputError(f"{where}: '{key}' must be a string")
    return value


def normalize_date(value: Any, where: str = "date") -> str | None:
    """An ISO 8601 date or datetime, returned as given when valid."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputError(f"{where}: 'date' must be an ISO 8601 string")
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            date.fromisoformat(value)
        else:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{where}: 'date' {value!r} is not ISO 8601 (e.g. 2024-04-09)") from None
    return value


def _check_id(doc_id: str) -> str:
    doc_id = doc_id.strip()
    if not doc_id or len(doc_id) > MAX_ID_CHARS or any(ord(c) < 32 for c in doc_id):
        raise InputError(f"invalid document id {doc_id[:40]!r}")
    return doc_id
