"""Loading articles from files: .txt, .md, .html, .json and .jsonl.

Where the metadata comes from, first found wins:

- ``.txt``/``.md``: YAML front matter (``rag.articles.frontmatter``; the stored text is the body
  after it), then the top of the text (``rag.newsparts.header``): the headline line, a byline, a
  "Published:" line, a dateline's agency and dated year;
- ``.html``: the page's metadata and main text through trafilatura (``rag.articles.html``);
- ``.json``/``.jsonl``: the record's fields.

Every article is first measured against ``rag.articles.limits`` (HTML elements, the widest block,
the text's length, its fields' lengths; front matter's size and no YAML aliases) and refused with
one ``ArticleLimitError`` naming the limit when over; pages are then parsed in a worker process
with a deadline (``rag.articles.sandbox``). ``limits`` defaults to ``Limits()``; pass
``settings.limits`` for the ``RAG_*`` values. Uploads (``load_upload``) and JSON records
(``load_records``) come in through the same readers as files.

The title falls back to the first line when it is short, else to the text's first 150
characters. The text is stored unchanged apart from front matter; headlines, bylines and
captions stay in it (searchable) and ``rag.newsparts.quotable`` keeps them out of answers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rag import jsonio
from rag.articles.limits import Limits, check_fields, check_text
from rag.errors import InputError, NotFoundError, RagError
from rag.models import Article
from rag.text import has_text
from rag.time.dates import normalize_date

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl")
MAX_TITLE_CHARS = 150
MAX_ID_CHARS = 200


@dataclass
class LoadResult:
    """Articles read from some paths, and a warning per file or record that was skipped."""

    articles: list[Article] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def is_url(value: str) -> bool:
    """True for arguments meant as URLs (web pages, feeds) rather than paths."""
    return value.lower().startswith(("http://", "https://"))


def load_paths(
    paths: Iterable[Path], progress: bool = False, limits: Limits | None = None
) -> LoadResult:
    """Read every supported file under ``paths`` (files or folders, recursively).

    Files of other types inside folders are skipped with one warning per file type. With
    ``progress``, a bar counts the files read when there are many.
    """
    result = LoadResult()
    others: dict[str, list[Path]] = {}
    files = list(_expand(paths, others))
    for suffix, skipped in sorted(others.items()):
        result.warnings.append(
            f"{len(skipped)} {suffix or '(no suffix)'} file(s) such as "
            f"{skipped[0]}: unsupported file type"
        )
    if not files:
        raise InputError("no supported files found (expected .txt, .md, .html, .json, .jsonl)")
    for path in _reading(files, progress):
        try:
            result.articles.extend(load_file(path, result.warnings, limits))
        except InputError as exc:
            result.warnings.append(f"{path}: {exc.message}")
    return result


PROGRESS_MIN_FILES = 50  # fewer files read in a moment: no bar


def _reading(files: list[Path], progress: bool) -> Iterable[Path]:
    if not progress or len(files) < PROGRESS_MIN_FILES:
        return files
    from tqdm import tqdm

    return tqdm(files, desc="reading", unit="file", dynamic_ncols=True)


def _expand(paths: Iterable[Path], others: dict[str, list[Path]]) -> Iterator[Path]:
    for path in paths:
        if not path.exists():
            raise NotFoundError(f"no such file or folder: {path}")
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            for p in found:
                if p.suffix.lower() not in SUPPORTED_SUFFIXES:
                    others.setdefault(p.suffix.lower(), []).append(p)
            yield from (p for p in found if p.suffix.lower() in SUPPORTED_SUFFIXES)
        elif path.suffix.lower() in SUPPORTED_SUFFIXES:
            yield path
        else:
            raise InputError(f"{path}: unsupported file type {path.suffix or '(none)'}")


def load_file(path: Path, warnings: list[str], limits: Limits | None = None) -> list[Article]:
    """Articles from one file; per-record problems in JSON Lines go to ``warnings``."""
    return load_bytes(path.name, path.read_bytes(), warnings, limits, where=str(path))


def load_bytes(
    name: str, data: bytes, warnings: list[str], limits: Limits | None = None, where: str = ""
) -> list[Article]:
    """Articles from one file's bytes, read by the suffix of its file ``name`` (the document
    id of a page or text); ``where`` names it in messages (default: ``name``)."""
    where = where or name
    raw = _read_text(data, where)
    suffix = Path(name).suffix.lower()
    if suffix == ".jsonl":
        return _load_jsonl(raw, where, warnings, limits)
    if suffix == ".json":
        return _load_json(raw, where, limits)
    if suffix in (".html", ".htm"):
        return [html_article(name, raw, limits=limits)]
    return [news_article(name, raw, limits=limits)]


def load_upload(name: str, data: bytes, limits: Limits | None = None) -> LoadResult:
    """The articles of one uploaded file (``name``: its file name, no folders), never raising:
    an unsupported type or a file that cannot be read is a warning that starts with ``name``."""
    result = LoadResult()
    if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        result.warnings.append(f"{name}: unsupported file type")
        return result
    try:
        result.articles = load_bytes(name, data, result.warnings, limits)
    except RagError as exc:
        result.warnings.append(f"{name}: {exc.message}")
    return result


def load_records(records: Sequence[Any], limits: Limits | None = None) -> list[Article]:
    """Articles from JSON records ``{id, title, text, ...}``; the first bad one raises an
    ``InputError`` naming it ("article 3: ...")."""
    return [
        article_from_record(record, where=f"article {i}", limits=limits)
        for i, record in enumerate(records)
    ]


def news_article(doc_id: str, raw: str, *, limits: Limits | None = None, **given: Any) -> Article:
    """A ``.txt``/``.md`` article: front matter, then the headline, byline and dateline.

    ``given`` (``title``, ``date``, ``source``, ``url``, ``author``) fills what the text does not
    say (a feed item's fields, say); the text's own front matter wins over it.
    """
    from rag.articles.frontmatter import split_front_matter
    from rag.newsparts import header

    front, body = split_front_matter(raw)
    check_text(body, limits or Limits())
    top = header(body)
    fields: dict[str, Any] = {k: v for k, v in given.items() if v}
    for source in (top, front):
        if source is not None:
            fields.update(
                {
                    k: v
                    for k, v in vars(source).items()
                    if v and k in ("title", "date", "source", "url", "author", "tags")
                }
            )
    title = fields.pop("title", None) or top.headline
    base = text_article(doc_id, body, title=title)
    return check_fields(replace(base, **fields))


def html_article(
    doc_id: str, html: str, *, url: str | None = None, limits: Limits | None = None, **given: Any
) -> Article:
    """An article from a web page: main text and metadata through trafilatura.

    ``given`` fills what the page does not say (a feed item's title, date and feed name).
    """
    from rag.articles.html import extract_page
    from rag.newsparts import header

    limits = limits or Limits()
    page = extract_page(html, url, limits)
    check_text(page.text, limits)
    fields = {k: v for k, v in given.items() if v}
    fields.update(
        {
            k: v
            for k, v in (
                ("date", page.date),
                ("author", page.author),
                ("source", page.sitename),
                ("url", page.url or url),
            )
            if v
        }
    )
    title = page.title or fields.pop("title", None) or header(page.text).headline
    fields.pop("title", None)
    if fields.get("date"):
        fields["date"] = normalize_date(fields["date"], "page")
    return check_fields(replace(text_article(doc_id, page.text, title=title), **fields))


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
        from rag.newsparts import header

        first = text.strip().split("\n", 1)[0].strip().lstrip("#").strip()
        title = header(text).headline or (
            first if len(first) <= MAX_TITLE_CHARS else _shorten(text)
        )
    return Article(doc_id=_check_id(doc_id), title=" ".join(title.split()), text=text)


def _shorten(text: str) -> str:
    cut = " ".join(text.split())[:MAX_TITLE_CHARS]
    return cut.rsplit(" ", 1)[0] + "\u2026" if " " in cut else cut


def _load_jsonl(raw: str, name: str, warnings: list[str], limits: Limits | None) -> list[Article]:
    articles = []
    for lineno, line in enumerate(raw.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            articles.append(article_from_record(jsonio.loads(line), limits=limits))
        except json.JSONDecodeError as exc:
            warnings.append(f"{name}:{lineno}: not valid JSON ({exc.msg})")
        except InputError as exc:
            warnings.append(f"{name}:{lineno}: {exc.message}")
    if not articles:
        raise InputError("no usable article records")
    return articles


def _load_json(raw: str, name: str, limits: Limits | None) -> list[Article]:
    try:
        data = jsonio.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    records = data if isinstance(data, list) else [data]
    return [
        article_from_record(r, where=f"record {i}", limits=limits) for i, r in enumerate(records)
    ]


def article_from_record(
    record: Any, where: str = "record", limits: Limits | None = None
) -> Article:
    """Validate one ``{id, title, text, url?, date?, source?}`` object into an Article."""
    if not isinstance(record, dict):
        raise InputError(f"{where} is not a JSON object")
    text = record.get("text")
    if not isinstance(text, str) or not has_text(text):
        raise InputError(f"{where} lacks a non-empty 'text' string")
    check_text(text, limits or Limits())
    doc_id = record.get("id", record.get("doc_id"))
    if doc_id is None or not str(doc_id).strip():
        raise InputError(f"{where} lacks an 'id'")
    title = record.get("title")
    base = text_article(str(doc_id), text, title=str(title) if title else None)
    article = Article(
        doc_id=base.doc_id,
        title=base.title,
        text=text,
        url=_optional_str(record, "url", where),
        date=normalize_date(record.get("date"), where),
        source=_optional_str(record, "source", where),
    )
    return check_fields(article)


def _optional_str(record: dict[str, Any], key: str, where: str) -> str | None:
    value = record.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputError(f"{where}: '{key}' must be a string")
    return value


def _check_id(doc_id: str) -> str:
    doc_id = doc_id.strip()
    if not doc_id or len(doc_id) > MAX_ID_CHARS or any(ord(c) < 32 for c in doc_id):
        raise InputError(f"invalid document id {doc_id[:40]!r}")
    return doc_id
