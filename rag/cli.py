"""The ``rag`` command line: a thin layer over :class:`rag.engine.Engine`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rag import jsonio
from rag.errors import (
    IndexCorruptError,
    IndexMissingError,
    InputError,
    ModelFileError,
    NotFoundError,
    RagError,
    mapped,
)
from rag.models import Answer, Copy, Filters
from rag.settings import Settings, load_settings

EXIT_CODES: dict[type[RagError], int] = {
    InputError: 2,
    NotFoundError: 2,
    IndexMissingError: 1,
    IndexCorruptError: 1,
    ModelFileError: 1,
}


def exit_code(error: RagError) -> int:
    return mapped(error, EXIT_CODES, 1)


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr, exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {_did_you_mean(message)} (see `{self.prog} --help`)\n")


def _did_you_mean(message: str) -> str:
    """argparse's "invalid choice: 'aks' (choose from ...)" as "... did you mean 'ask'?"."""
    import difflib
    import re

    found = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
    if found is None:
        return message
    choices = re.findall(r"'([^']*)'", found.group(2))
    close = difflib.get_close_matches(found.group(1), choices, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}?" if close else f"choose from {', '.join(choices)}"
    return f"{message[: found.start()]}unknown choice {found.group(1)!r}: {hint}"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("newsqa-rag")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="rag", description="Extractive QA over news articles.")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def cmd(name: str, help_text: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_text)
        sp.add_argument(
            "--index", type=Path, help="index folder (default: $RAG_INDEX_DIR or ./index)"
        )
        sp.add_argument(
            "--database-url",
            metavar="URL",
            help="use PostgreSQL + pgvector instead of the index folder "
            "(default: $RAG_DATABASE_URL)",
        )
        return sp

    sp = cmd("ingest", "add files, folders, web pages or RSS/Atom feeds to the index")
    sp.add_argument("paths", nargs="+", metavar="PATH_OR_URL")
    sp.add_argument("--rebuild", action="store_true", help="start a fresh index from these paths")
    sp = cmd("ask", "answer a question with quoted, cited sentences")
    sp.add_argument("question", nargs="*", help="the question (quotes are optional)")
    sp.add_argument("--questions", type=Path, help="JSONL file of {id, question} for batch mode")
    sp.add_argument(
        "--as-of",
        metavar="YYYY-MM-DD",
        help='the day "now" is for time phrases such as "last week" (default: today)',
    )
    _add_query_options(sp)
    sp = cmd("search", "show the passages retrieval finds for a query")
    sp.add_argument("query", nargs="+", help="the query (quotes are optional)")
    sp.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
    _add_query_options(sp)
    cmd("documents", "list the articles in the index").add_argument("--json", action="store_true")
    cmd("delete", "remove an article from the index").add_argument("doc_id")
    cmd("stats", "show the index manifest and counts")
    sp = cmd("feedback", "list readers' thumbs up/down on answers, newest first")
    sp.add_argument("--limit", type=int, default=50)
    sp.add_argument("--rating", choices=["up", "down"])
    sp.add_argument("--json", action="store_true")
    cmd("compact", "merge the index's segments and drop deleted rows")
    sp = cmd("watch", "poll RSS/Atom feeds and ingest new or changed items")
    sp.add_argument("feeds", nargs="+", metavar="FEED_URL")
    sp.add_argument("--every", type=_interval, help="30s, 10m, 1h (default $RAG_FEED_INTERVAL)")
    sp.add_argument("--polls", type=int, help="stop after this many polls (default: never)")
    sp = cmd("serve", "run the HTTP API and chat widget")
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=8000)
    sp.add_argument("--workers", type=int, default=1)
    from rag.evaluation.cli import add_eval_parser
    from rag.training.cli import add_train_parser

    add_eval_parser(sub)
    add_train_parser(sub)
    return p


def _add_query_options(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--top-k", type=int, default=None)
    sp.add_argument("--json", action="store_true", help="print the JSON object")
    sp.add_argument("--source")
    sp.add_argument("--doc-id")
    sp.add_argument("--date-from")
    sp.add_argument("--date-to")


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings()
    if getattr(args, "index", None):
        settings = settings.model_copy(update={"index_dir": args.index})
    if getattr(args, "database_url", None):
        settings = settings.model_copy(update={"database_url": args.database_url})
    return settings


def _engine(args: argparse.Namespace) -> Any:
    from rag.engine import Engine

    return Engine(_settings(args))


def _filters(args: argparse.Namespace) -> Filters:
    from rag.dates import check_date

    return Filters(
        source=args.source,
        doc_id=args.doc_id,
        date_from=check_date(args.date_from, "--date-from"),
        date_to=check_date(args.date_to, "--date-to"),
    )


def _check_source(engine: Any, source: str | None) -> None:
    """A --source no article has is said plainly, instead of an abstention."""
    if not source:
        return
    sources = {d.get("source") or "" for d in engine.documents()}
    if source.casefold() not in {s.casefold() for s in sources}:
        known = ", ".join(sorted(s for s in sources if s)) or "none recorded"
        raise NotFoundError(f"no article matches source={source!r} (sources: {known})")


def _interval(value: str) -> float:
    from rag.dates import parse_interval

    try:
        return parse_interval(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_watch(args: argparse.Namespace) -> int:
    from rag.watch import Watcher

    settings, engine = _settings(args), _engine(args)
    logging.getLogger("rag.watch").setLevel(logging.INFO)
    Watcher(args.feeds, settings, engine.ingest).run(
        args.every or settings.feed_interval, polls=args.polls
    )
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from rag.remote import load_sources

    loaded = load_sources(args.paths, _settings(args), progress=True)
    for warning in loaded.warnings:
        print(f"warning: skipped {warning}", file=sys.stderr)
    if not loaded.articles:
        raise InputError("nothing to ingest: every file was skipped")
    report = _engine(args).ingest(loaded.articles, rebuild=args.rebuild, progress=True)
    print(
        f"ingested {len(loaded.articles)} article(s): {len(report.added)} added, "
        f"{len(report.replaced)} replaced, {len(report.unchanged)} unchanged, "
        f"{len(loaded.warnings)} skipped; the index holds {report.chunks} chunks"
    )
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.timephrases import parse_as_of

    engine, as_of = _engine(args), parse_as_of(args.as_of, "--as-of")
    if args.questions is not None:
        return _ask_batch(engine, args, as_of)
    question = " ".join(args.question)
    if not question:
        raise InputError("give a question, or --questions FILE.jsonl")
    filters = _filters(args)
    _check_source(engine, filters.source)
    answer = engine.ask(question, top_k=args.top_k, filters=filters, as_of=as_of)
    print(
        json.dumps(answer.to_dict(), ensure_ascii=False)
        if args.json
        else render(answer, span_marks())
    )
    return 0


def _ask_batch(engine: Any, args: argparse.Namespace, as_of: Any) -> int:
    from tqdm import tqdm

    if not args.questions.is_file():
        raise NotFoundError(f"no such file: {args.questions}")
    lines = args.questions.read_text("utf-8", errors="replace").splitlines()
    for lineno, line in enumerate(tqdm(lines, desc="questions", file=sys.stderr), start=1):
        if not line.strip():
            continue
        record: dict[str, Any] = {}
        try:
            record = jsonio.loads(line)
            if not isinstance(record, dict) or not isinstance(record.get("question"), str):
                raise InputError('each line must be an object with a "question" string')
            out = engine.ask(
                record["question"], top_k=args.top_k, filters=_filters(args), as_of=as_of
            ).to_dict()
        except (ValueError, RagError) as exc:
            message = exc.message if isinstance(exc, RagError) else f"not valid JSON ({exc})"
            out = {
                "error": {
                    "code": getattr(exc, "code", "bad_input"),
                    "message": f"line {lineno}: {message}",
                }
            }
        out = {"id": record.get("id") if isinstance(record, dict) else None, **out}
        print(json.dumps(out, ensure_ascii=False), flush=True)
    return 0


# the answer span inside each quote: bold on a terminal, Markdown-style asterisks elsewhere
BOLD = ("\x1b[1m", "\x1b[22m")
PLAIN_MARKS = ("**", "**")


def span_marks() -> tuple[str, str]:
    """Bold when stdout is a terminal (not with ``NO_COLOR`` or ``TERM=dumb``), else ``**``."""
    plain = os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb"
    return BOLD if sys.stdout.isatty() and not plain else PLAIN_MARKS


def render(answer: Answer, marks: tuple[str, str] = PLAIN_MARKS) -> str:
    """Human-readable answer: the time the question names, quotes (each answer span between
    ``marks``), then the numbered sources."""
    if answer.time_filter is not None:
        from dataclasses import replace

        from rag.timefilter import describe_time

        rest = render(replace(answer, time_filter=None), marks)
        return f"{describe_time(answer.time_filter)}\n{rest}"
    if answer.abstained:
        lines = [
            f"The articles don't say. (reason: {answer.reason}, confidence {answer.confidence:.2f})"
        ]
        if answer.passages:
            lines.append("\nClosest passages:")
            for p in answer.passages[:3]:
                lines.append(f"- {p.doc_id} [{p.start}:{p.end}] {_clip(p.text)}")
        return "\n".join(lines)
    from rag.answerspan import emphasise

    lines = [emphasise(answer.answer, answer.citations, *marks), "", "Sources:"]
    for c in answer.citations:
        extra = ", ".join(x for x in (c.source, c.date, c.url) if x)
        lines.append(
            f"[{c.n}] {c.title} ({c.doc_id}, characters {c.start}-{c.end}"
            + (f"; {extra}" if extra else "")
            + ")"
        )
        if c.also_in:  # the other copies of the story (rag.duplicates)
            lines.append(f"    also in: {_copies(c.also_in)}")
    return "\n".join(lines)


def _copies(copies: Sequence[Copy]) -> str:
    """Where else a story appeared: "Herald (2024-03-04), Reuters"."""
    return ", ".join((x.source or x.doc_id) + (f" ({x.date})" if x.date else "") for x in copies)


def _clip(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "\u2026"


def cmd_search(args: argparse.Namespace) -> int:
    engine, filters = _engine(args), _filters(args)
    _check_source(engine, filters.source)
    passages = engine.search(" ".join(args.query), args.top_k, filters, args.mode)
    if args.json:
        print(json.dumps([p.to_dict() for p in passages], ensure_ascii=False))
        return 0
    # shown in the reader's order (by best sentence); the retrieval rank says where the
    # fused score alone had put each passage, so the scores read in the order shown
    by_score = sorted(range(len(passages)), key=lambda i: -passages[i].score)
    fused_rank = {i: r for r, i in enumerate(by_score, start=1)}
    for i, p in enumerate(passages):
        doc = engine.document(p.doc_id)
        where = ", ".join(x for x in (doc.get("source"), doc.get("date")) if x)
        print(
            f"{i + 1}. {_clip(doc['title'], 90)}"
            + (f" ({where})" if where else "")
            + f"\n   {p.doc_id} [{p.start}:{p.end}]  retrieval rank {fused_rank[i]}, "
            f"fused score {p.score:.4f}\n   {_clip(p.text)}"
            + (f"\n   also in: {_copies(p.also_in)}" if p.also_in else "")
        )
    if not passages:
        print("no passages matched")
    return 0


def cmd_documents(args: argparse.Namespace) -> int:
    docs = _engine(args).documents()
    if args.json:
        print(json.dumps(docs, ensure_ascii=False))
        return 0
    for d in docs:
        print(
            f"{_clip(d['title'], 80)}\n   {d.get('source') or '-'} | {d.get('date') or '-'} | "
            f"{d['doc_id']} | {d['chunks']} chunks"
        )
    print(f"{len(docs)} document(s)")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    _engine(args).delete(args.doc_id)
    print(f"deleted {args.doc_id}")
    return 0


def cmd_compact(args: argparse.Namespace) -> int:
    engine = _engine(args)
    before = engine.stats()["counts"]
    engine.compact()
    after = engine.stats()["counts"]
    print(
        f"compacted: {before.get('segments', '-')} segment(s) -> {after.get('segments', '-')}; "
        f"{after['chunks']} chunks"
    )
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    from rag.feedback import FeedbackStore, feedback_file

    store = FeedbackStore(feedback_file(_settings(args)))
    rows = store.recent(args.limit, args.rating)
    if args.json:
        print(json.dumps([f.to_dict() for f in rows], ensure_ascii=False))
        return 0
    from datetime import datetime

    for f in rows:
        when = datetime.fromtimestamp(f.created_at).strftime("%Y-%m-%d %H:%M")
        print(
            f"{when}  {f.rating:<4}  {_clip(f.question, 100)}"
            + (f"\n      comment: {_clip(f.comment, 100)}" if f.comment else "")
        )
    totals = store.counts()
    print(f"{totals['up']} up, {totals['down']} down in {store.path}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    print(json.dumps(_engine(args).stats(), indent=2))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from api.server import serve

    return serve(_settings(args), host=args.host, port=args.port, workers=args.workers)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "ingest": cmd_ingest,
    "ask": cmd_ask,
    "search": cmd_search,
    "documents": cmd_documents,
    "delete": cmd_delete,
    "stats": cmd_stats,
    "compact": cmd_compact,
    "serve": cmd_serve,
    "watch": cmd_watch,
    "feedback": cmd_feedback,
}


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore")  # library chatter; errors are the CLI's one-line messages
    args = _parser().parse_args(argv)
    from rag import runtime

    runtime.configure_process()
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:
        logging.getLogger("transformers").setLevel(logging.ERROR)
    try:
        handler = COMMANDS.get(args.command)
        if handler is None and args.command == "train":
            from rag.training.cli import cmd_train

            handler = cmd_train
        if handler is None:
            from rag.evaluation.cli import cmd_eval

            handler = cmd_eval
        return handler(args)
    except RagError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exit_code(exc)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except (OSError, MemoryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
