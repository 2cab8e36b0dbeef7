"""The ``rag`` command line's arguments: options, their help and each command's examples.

``rag CMD --help`` is where a newcomer learns the command: every option says what it does and
its default, and each command ends with examples to copy. Usage errors are one line on stderr
with exit code 2, with "did you mean" for a mistyped command.
"""

from __future__ import annotations

import argparse
from pathlib import Path


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


EXAMPLES = {
    "ingest": """examples:
  rag ingest seeds/                          the sample articles
  rag ingest archive/ today.jsonl            folders and files (.txt .md .html .json .jsonl)
  rag ingest https://example.org/feed.xml    a web page or an RSS/Atom feed's items
  rag ingest --rebuild seeds/                start the index again from these""",
    "ask": """examples:
  rag ask What did Albanese say about Japan?
  rag ask "What did the mayor say last week?" --as-of 2026-03-20
  rag ask "How much will the repairs cost?" --source "Radio Lowmere"
  rag ask "What was agreed?" --date-from 2026-03-01 --date-to 2026-03-31 --top-k 10
  rag ask --questions questions.jsonl > answers.jsonl     one JSON answer per line
  rag ask "Who is the mayor?" --json | jq .citations      the answer object, with offsets
  rag ask -c "What did she say about the budget?"          a follow-up of the last question""",
    "search": """examples:
  rag search bridge repairs cost
  rag search "ferry terminal" --mode bm25 --top-k 10 --json""",
    "documents": """examples:
  rag documents                 newest first, undated last
  rag documents --json | jq '.[].doc_id'""",
    "delete": """examples:
  rag delete 2026-03-05-valleypost-shops-count-cost.md     (ids: see `rag documents`)""",
    "stats": """examples:
  rag stats
  rag stats --json          also the chunking and sentence-splitter settings""",
    "feedback": """examples:
  rag feedback --rating down --limit 10""",
    "watch": """examples:
  rag watch https://example.org/feed.xml --every 10m
  rag watch https://a.example/rss https://b.example/atom --every 1h --polls 3""",
    "eval": """examples:
  rag eval tests/news/story/questions.jsonl --corpus tests/news/story/articles --sample 0
  rag eval my-questions.jsonl --corpus my-articles/      {"id", "question", "answers": [...]}
  rag eval data/scifact-beir --sample 300 --baselines   a BEIR folder: retrieval only""",
    "train": """examples:
  rag train ../shared/data/squad-v1.1-dev/dev-v1.1.tune.json --out models/""",
    "serve": """examples:
  rag serve                             http://127.0.0.1:8000/ (the widget is at /)
  rag serve --port 8080 --workers 2""",
}
QUERY_HELP = {
    "--top-k": "how many passages to return, 1 to 50 (default: $RAG_TOP_K or 5)",
    "--source": "only articles from this outlet, e.g. 'Lowmere Gazette' (any case)",
    "--doc-id": "only this article (ids: see `rag documents`)",
    "--date-from": "only articles dated on or after this day (YYYY-MM-DD)",
    "--date-to": "only articles dated on or before this day (YYYY-MM-DD)",
}


def build_parser() -> argparse.ArgumentParser:
    """The ``rag`` parser with every subcommand."""
    p = _Parser(prog="rag", description="Extractive QA over news articles.")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def cmd(name: str, help_text: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(
            name,
            help=help_text,
            description=help_text[:1].upper() + help_text[1:] + ".",
            epilog=EXAMPLES.get(name),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sp.add_argument(
            "--index", type=Path, help="index folder (default: $RAG_INDEX_DIR or ./index)"
        )
        sp.add_argument(
            "--database-url",
            metavar="URL",
            help="use PostgreSQL + pgvector instead of the index folder "
            "(default: $RAG_DATABASE_URL)",
        )
        sp.add_argument(  # SUPPRESS: `rag -v ask` keeps the top-level flag's value
            "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP
        )
        return sp

    sp = cmd("ingest", "add files, folders, web pages or RSS/Atom feeds to the index")
    sp.add_argument("paths", nargs="+", metavar="PATH_OR_URL", help="files, folders or URLs")
    sp.add_argument("--rebuild", action="store_true", help="start a fresh index from these paths")
    sp = cmd("ask", "answer a question with quoted, cited sentences")
    sp.add_argument("question", nargs="*", help="the question (quotes are optional)")
    sp.add_argument("--questions", type=Path, help="JSONL file of {id, question} for batch mode")
    sp.add_argument(
        "--as-of",
        metavar="YYYY-MM-DD",
        help='the day "now" is for time phrases such as "last week" (default: today)',
    )
    sp.add_argument(
        "-c",
        "--continue",
        dest="cont",
        action="store_true",
        help='a follow-up of the last `rag ask` ("What about the governor?", "Why?")',
    )
    _add_query_options(sp)
    sp = cmd("search", "show the passages retrieval finds for a query")
    sp.add_argument("query", nargs="+", help="the query (quotes are optional)")
    sp.add_argument(
        "--mode",
        choices=["hybrid", "dense", "bm25"],
        default="hybrid",
        help="hybrid (default): embeddings and BM25 fused; dense or bm25: one of them",
    )
    _add_query_options(sp)
    sp = cmd("documents", "list the articles in the index, newest first")
    sp.add_argument("--json", action="store_true", help="print them as one JSON array")
    sp = cmd("delete", "remove an article from the index")
    sp.add_argument("doc_id", help="the article's id (see `rag documents`)")
    sp = cmd("stats", "show what the index holds, which model built it and where it is")
    sp.add_argument("--json", action="store_true", help="the manifest and counts as JSON")
    sp = cmd("feedback", "list readers' thumbs up/down on answers, newest first")
    sp.add_argument("--limit", type=int, default=50, help="at most this many (default: 50)")
    sp.add_argument("--rating", choices=["up", "down"], help="only this rating")
    sp.add_argument("--json", action="store_true", help="print them as one JSON array")
    cmd("compact", "merge the index's segments and drop deleted rows")
    sp = cmd("watch", "poll RSS/Atom feeds and ingest new or changed items")
    sp.add_argument("feeds", nargs="+", metavar="FEED_URL", help="RSS or Atom feed URLs")
    sp.add_argument("--every", type=_interval, help="30s, 10m, 1h (default $RAG_FEED_INTERVAL)")
    sp.add_argument("--polls", type=int, help="stop after this many polls (default: never)")
    sp = cmd("serve", "run the HTTP API and chat widget")
    sp.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    sp.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    sp.add_argument(
        "--workers", type=int, default=1, help="server processes (default: %(default)s)"
    )
    from rag.evaluation.cli import add_eval_parser
    from rag.training.cli import add_train_parser

    add_eval_parser(sub)
    add_train_parser(sub)
    for name in ("eval", "train"):  # their options live with them; the examples live here
        sub.choices[name].epilog = EXAMPLES[name]
        sub.choices[name].formatter_class = argparse.RawDescriptionHelpFormatter
    return p


VERBOSE_HELP = "log progress details; answers also show ids, offsets and abstention reasons"


def _add_query_options(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--top-k", type=int, default=None, metavar="N", help=QUERY_HELP["--top-k"])
    sp.add_argument(
        "--json", action="store_true", help="print the JSON object (offsets, scores, reasons)"
    )
    sp.add_argument("--source", metavar="OUTLET", help=QUERY_HELP["--source"])
    sp.add_argument("--doc-id", metavar="ID", help=QUERY_HELP["--doc-id"])
    sp.add_argument("--date-from", metavar="YYYY-MM-DD", help=QUERY_HELP["--date-from"])
    sp.add_argument("--date-to", metavar="YYYY-MM-DD", help=QUERY_HELP["--date-to"])


def _interval(value: str) -> float:
    from rag.time.dates import parse_interval

    try:
        return parse_interval(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
