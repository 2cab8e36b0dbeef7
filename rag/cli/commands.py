"""The ``rag`` command line: a thin layer over :class:`rag.engine.Engine`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from rag import jsonio
from rag.cli.args import build_parser
from rag.cli.view import (
    BOLD,  # noqa: F401  (re-exported: tests and callers render answers from here)
    clip,
    document_lines,
    newest_first,
    passage_lines,
    plural,
    render,
    span_marks,
    stats_summary,
)
from rag.errors import (
    IndexCorruptError,
    IndexMissingError,
    InputError,
    ModelFileError,
    NotFoundError,
    ParserUnavailableError,
    RagError,
    mapped,
)
from rag.models import CLI_NAMES, CheckedQuery, Filters, Query
from rag.settings import Settings, load_settings

EXIT_CODES: dict[type[RagError], int] = {
    InputError: 2,
    NotFoundError: 2,
    IndexMissingError: 1,
    IndexCorruptError: 1,
    ModelFileError: 1,
    ParserUnavailableError: 1,
}


def exit_code(error: RagError) -> int:
    return mapped(error, EXIT_CODES, 1)


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


def _query(args: argparse.Namespace, question: str, **given: Any) -> Query:
    """The command's question and options as the engine's query (checked there)."""
    filters = Filters(args.source, args.doc_id, args.date_from, args.date_to)
    return Query(question, args.top_k, filters, names=CLI_NAMES, **given)


def _check_source(engine: Any, source: str | None) -> None:
    """A --source no article has is said plainly, instead of an abstention."""
    if not source:
        return
    sources = {d.get("source") or "" for d in engine.documents()}
    if source.casefold() not in {s.casefold() for s in sources}:
        known = ", ".join(sorted(s for s in sources if s)) or "none recorded"
        raise NotFoundError(f"no article matches source={source!r} (sources: {known})")


def cmd_watch(args: argparse.Namespace) -> int:
    settings, engine = _settings(args), _engine(args)
    every = args.every or settings.fetching.feed_interval
    where = "the database" if settings.storage.database_url else settings.storage.index_dir
    polls = f", {plural(args.polls, 'poll')}" if args.polls else "; Ctrl-C stops"
    print(
        f"watching {plural(len(args.feeds), 'feed')} every {_duration(every)} into {where}{polls}",
        flush=True,
    )
    logging.getLogger("rag.articles.watch").setLevel(logging.INFO)
    engine.watch(args.feeds, every, polls=args.polls)
    return 0


def _duration(seconds: float) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def cmd_ingest(args: argparse.Namespace) -> int:
    engine = _engine(args)
    loaded = engine.load_sources(args.paths, progress=True)
    for warning in loaded.warnings:
        print(f"warning: skipped {warning}", file=sys.stderr)
    if not loaded.articles:
        raise InputError(_nothing_read(args.paths, loaded.warnings))
    report = engine.ingest(loaded.articles, rebuild=args.rebuild, progress=True)
    print(
        f"ingested {len(loaded.articles)} article(s): {len(report.added)} added, "
        f"{len(report.replaced)} replaced, {len(report.unchanged)} unchanged, "
        f"{len(loaded.warnings)} skipped; the index holds {report.chunks} chunks"
    )
    return 0


def _nothing_read(given: Sequence[str], warnings: Sequence[str]) -> str:
    """Why nothing was ingested, naming what happened when one file or URL was given."""
    from rag.articles.loading import is_url

    if len(warnings) == 1 and len(given) == 1:
        return f"nothing to ingest: {warnings[0]}"
    urls = sum(1 for g in given if is_url(g))
    what = "URL" if urls == len(given) else "file or URL" if urls else "file"
    return f"nothing to ingest: every {what} was skipped (the reasons are above)"


def cmd_ask(args: argparse.Namespace) -> int:
    engine = _engine(args)
    if args.questions is not None:
        return _ask_batch(engine, args)
    question = " ".join(args.question)
    if not question:
        raise InputError("give a question, or --questions FILE.jsonl")
    answer = _ask_in_conversation(engine, args, question)
    print(
        json.dumps(answer.to_dict(), ensure_ascii=False)
        if args.json
        else render(answer, span_marks(), verbose=args.verbose)
    )
    return 0


def _ask_in_conversation(engine: Any, args: argparse.Namespace, question: str) -> Any:
    """The answer, resolved against the kept conversation with ``-c`` (``rag.cli.chatlog``); the
    exchange is kept for the next ``-c``, and a rewritten question is shown as read."""
    from rag.cli import chatlog

    log_path = chatlog.conversation_file(engine.settings)
    history = chatlog.load(log_path) if args.cont else []
    pairs = tuple((t.question, t.answer) for t in history)
    query: CheckedQuery = engine.check(_query(args, question, history=pairs, as_of=args.as_of))
    _check_source(engine, query.filters.source)
    answer = engine.ask(query)
    turn = chatlog.Turn(answer.resolved_question or question, answer.answer)
    chatlog.save(log_path, [*history, turn])
    if not args.json and answer.resolved_question not in (None, question):
        print(f"(read as: {answer.resolved_question})")
    return answer


def _ask_batch(engine: Any, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    as_of = engine.as_of(args.as_of, CLI_NAMES.as_of)  # a wrong --as-of stops the batch
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
            out = engine.ask(_query(args, record["question"], as_of=as_of)).to_dict()
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


def cmd_search(args: argparse.Namespace) -> int:
    engine = _engine(args)
    query = engine.check(_query(args, " ".join(args.query), mode=args.mode))
    _check_source(engine, query.filters.source)
    passages = engine.search(query)
    if args.json:
        print(json.dumps([p.to_dict() for p in passages], ensure_ascii=False))
        return 0
    # shown in the reader's order (by best sentence); the retrieval rank says where the
    # fused score alone had put each passage, so the scores read in the order shown
    by_score = sorted(range(len(passages)), key=lambda i: -passages[i].score)
    fused_rank = {i: r for r, i in enumerate(by_score, start=1)}
    for i, p in enumerate(passages):
        print(passage_lines(i + 1, p, engine.document(p.doc_id), fused_rank[i]))
    if not passages:
        print("no passages matched")
    return 0


def cmd_documents(args: argparse.Namespace) -> int:
    docs = _engine(args).documents()
    if args.json:
        print(json.dumps(docs, ensure_ascii=False))
        return 0
    for d in newest_first(docs):
        print(document_lines(d))
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
            f"{when}  {f.rating:<4}  {clip(f.question, 100)}"
            + (f"\n      comment: {clip(f.comment, 100)}" if f.comment else "")
        )
    totals = store.counts()
    print(f"{totals['up']} up, {totals['down']} down in {store.path}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    stats = _engine(args).stats()
    print(json.dumps(stats, indent=2) if args.json else stats_summary(stats))
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


WATCH_LOG = "%(asctime)s %(message)s"


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    warnings.filterwarnings("ignore")  # library chatter; errors are the CLI's one-line messages
    args = build_parser().parse_args(argv)
    from rag import runtime

    runtime.configure_process()
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        # `rag watch` runs for days: each poll line says when it was
        format=WATCH_LOG if args.command == "watch" else "%(levelname)s %(name)s: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
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
    except BrokenPipeError:  # `rag ask ... | head`: the reader left; no message, like `cat`
        return _reader_left()
    except (OSError, MemoryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _reader_left() -> int:
    """Point stdout at /dev/null (so that the interpreter's last flush does not fail again)
    and exit as a process stopped by SIGPIPE does (128 + 13)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141


if __name__ == "__main__":
    sys.exit(main())
