"""Evaluation datasets: SQuAD JSON (v1.1/v2.0), BEIR folders, and our own JSONL."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from rag import jsonio
from rag.answering.conversation import Turn
from rag.articles.loading import load_paths
from rag.errors import InputError, NotFoundError
from rag.evaluation.expectations import Expectations, Question, expectations_from
from rag.models import Article

# SQuAD articles held out of the index by default: their questions are the out-of-corpus ones
# (the shipped model's and docs/experiments.md's figures hold out 4 of the tuning half's 24)
HOLDOUT = 4


@dataclass(frozen=True)
class EvalItem:
    """One question. ``spans`` are gold answer offsets in the gold article's text; ``as_of``,
    ``history`` and ``expect`` (news checks) come from our own JSONL files."""

    qid: str
    question: str
    answers: tuple[str, ...] = ()
    doc_id: str | None = None
    spans: tuple[tuple[int, int], ...] = ()
    in_corpus: bool = True  # False: its article is not indexed, or it has no answer
    relevant: dict[str, int] = field(default_factory=dict)  # BEIR: doc id -> grade
    as_of: date | None = None  # the day the question is asked on (None: today)
    history: tuple[Turn, ...] = ()  # earlier turns of the conversation
    expect: Expectations | None = None  # news checks (None: the question has none)

    def as_question(self) -> Question:
        """What the news checks need to know of this item."""
        return Question(self.in_corpus, self.answers, self.doc_id, self.expect or Expectations())


@dataclass
class EvalSet:
    name: str
    kind: str  # squad / beir / jsonl
    articles: list[Article]
    items: list[EvalItem]
    notes: list[str] = field(default_factory=list)


def split_of(qid: str) -> str:
    """A fixed split of questions: half for fitting the scorer, half for reporting."""
    return "fit" if int(hashlib.sha1(qid.encode()).hexdigest(), 16) % 2 == 0 else "report"


def load_dataset(
    path: Path,
    *,
    corpus: Path | None = None,
    holdout: int | None = None,
    sample: int | None = None,
    seed: int = 13,
) -> EvalSet:
    """Detect the dataset kind from ``path`` and load it (``holdout``: SQuAD only)."""
    if not path.exists():
        raise NotFoundError(f"no such dataset: {path}")
    if path.is_dir():
        return load_beir(path, sample=sample, seed=seed)
    if path.suffix == ".jsonl":
        if corpus is None:
            raise InputError("a JSONL question file needs --corpus PATH (the articles)")
        return load_jsonl(path, corpus, sample=sample, seed=seed)
    return load_squad(path, holdout=holdout, sample=sample, seed=seed)


def _sample(items: list[EvalItem], n: int | None, seed: int) -> list[EvalItem]:
    if n is None or n >= len(items):
        return items
    return sorted(random.Random(seed).sample(items, n), key=lambda i: i.qid)


def default_holdout(articles: int) -> int:
    """How many SQuAD articles are held out when ``--holdout`` is not given: ``HOLDOUT``, but
    never more than a third of them, so that most of a small file is indexed."""
    return min(HOLDOUT, articles // 3)


def load_squad(
    path: Path, *, holdout: int | None = None, sample: int | None = None, seed: int = 13
) -> EvalSet:
    """Each Wikipedia article is one article; ``holdout`` articles (default:
    ``default_holdout``) are left out of the index and their questions measure abstention.
    SQuAD v2.0 unanswerable questions do too. Holding out every article is an input error."""
    try:
        data = jsonio.loads(path.read_text("utf-8"))["data"]
    except (ValueError, KeyError, TypeError):
        raise InputError(f"{path} is not a SQuAD JSON file") from None
    titles = sorted(a["title"] for a in data)
    holdout = default_holdout(len(titles)) if holdout is None else holdout
    if holdout >= len(titles):
        raise InputError(
            f"--holdout {holdout} leaves none of the {len(titles)} articles in {path.name} "
            "to index; hold out fewer"
        )
    held = set(sorted(titles, key=lambda t: hashlib.sha1(t.encode()).hexdigest())[:holdout])
    articles: list[Article] = []
    inside: list[EvalItem] = []
    outside: list[EvalItem] = []
    for entry in data:
        article, items = _squad_article(entry)
        if entry["title"] in held:
            outside.extend(EvalItem(i.qid, i.question, i.answers, None, (), False) for i in items)
        else:
            articles.append(article)
            inside.extend(items)
    answerable = [i for i in inside if i.in_corpus]
    impossible = [i for i in inside if not i.in_corpus]
    chosen = (
        _sample(answerable, sample, seed)
        + _sample(impossible, sample, seed)
        + _sample(outside, None if sample is None else max(sample // 3, 1), seed)
    )
    notes = [f"{len(articles)} articles indexed, {len(held)} held out: {', '.join(sorted(held))}"]
    return EvalSet(path.name, "squad", articles, chosen, notes)


def _squad_article(entry: dict[str, Any]) -> tuple[Article, list[EvalItem]]:
    title = entry["title"]
    parts: list[str] = []
    items: list[EvalItem] = []
    offset = 0
    for paragraph in entry["paragraphs"]:
        context = paragraph["context"]
        for qa in paragraph["qas"]:
            answers = [a for a in qa.get("answers", []) if a.get("text")]
            spans = tuple(
                dict.fromkeys(
                    (offset + a["answer_start"], offset + a["answer_start"] + len(a["text"]))
                    for a in answers
                )
            )
            answerable = bool(answers) and not qa.get("is_impossible", False)
            items.append(
                EvalItem(
                    qa["id"],
                    qa["question"],
                    tuple(dict.fromkeys(a["text"] for a in answers)),
                    title if answerable else None,
                    spans,
                    answerable,
                )
            )
        parts.append(context)
        offset += len(context) + 2
    text = "\n\n".join(parts)
    article = Article(doc_id=title, title=title.replace("_", " "), text=text, source="squad")
    for item in items:  # the mapped offsets must point at the answers
        if any(text[s:e] not in item.answers for s, e in item.spans):
            raise InputError(f"answer offsets do not match the text in article {title!r}")
    return article, items


def load_beir(folder: Path, *, sample: int | None = None, seed: int = 13) -> EvalSet:
    """BEIR layout: corpus.jsonl, queries.jsonl, qrels/*.tsv. Retrieval metrics only."""
    corpus, queries = folder / "corpus.jsonl", folder / "queries.jsonl"
    qrel_files = sorted((folder / "qrels").glob("*.tsv"))
    if not corpus.exists() or not queries.exists() or not qrel_files:
        raise InputError(f"{folder} is not a BEIR folder (corpus.jsonl, queries.jsonl, qrels/)")
    articles = []
    for r in _beir_records(corpus):
        text = str(r.get("text") or r.get("title") or "")
        if text.strip():
            articles.append(
                Article(
                    doc_id=str(r["_id"]),
                    title=str(r.get("title") or r["_id"]),
                    text=text,
                    source="beir",
                )
            )
    qrels: dict[str, dict[str, int]] = {}
    for qrel in qrel_files:
        for line in qrel.read_text("utf-8").splitlines()[1:]:
            qid, doc, score = line.split("\t")[:3]
            if int(score) > 0:
                qrels.setdefault(qid, {})[doc] = int(score)
    items = []
    for r in _beir_records(queries):
        if str(r["_id"]) in qrels:
            items.append(
                EvalItem(str(r["_id"]), str(r.get("text") or ""), relevant=qrels[str(r["_id"])])
            )
    return EvalSet(
        folder.name,
        "beir",
        articles,
        _sample(items, sample, seed),
        [f"{len(articles)} documents, qrels from " + ", ".join(q.name for q in qrel_files)],
    )


def _beir_records(path: Path) -> list[dict[str, Any]]:
    """The objects of a BEIR ``.jsonl`` file; each must have an ``_id``."""
    return [r for _, r in _jsonl_objects(path, "_id")]


def _jsonl_objects(path: Path, key: str) -> list[tuple[int, dict[str, Any]]]:
    """The JSON objects of a ``.jsonl`` file with their line numbers; blank lines are skipped,
    and a line that is not an object holding ``key`` is an input error naming file:line."""
    records = []
    for lineno, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            r = jsonio.loads(line)
        except ValueError:
            r = None
        if not isinstance(r, dict) or key not in r:
            raise InputError(f"{path}:{lineno}: expected a JSON object with '{key}'")
        records.append((lineno, r))
    return records


def load_jsonl(path: Path, corpus: Path, *, sample: int | None = None, seed: int = 13) -> EvalSet:
    """``{"id", "question", "answers": [...], "doc_id"?}`` or ``{"id", "question",
    "unanswerable": true}`` per line, over the articles at ``corpus``; the news fields
    (``as_of``, ``history``, ``quotes``, ...: ``rag.evaluation.expectations``) are optional."""
    articles = load_paths([corpus]).articles
    items = [_jsonl_item(r, f"{path}:{lineno}") for lineno, r in _jsonl_objects(path, "question")]
    return EvalSet(path.name, "jsonl", articles, _sample(items, sample, seed))


_NEWS_KEYS = (
    "quotes",
    "not_quotes",
    "order",
    "reason",
    "answer_span",
    "time_filter",
    "also_in",
    "resolved",
    "not_resolved",
)


def _jsonl_item(r: dict[str, Any], where: str) -> EvalItem:
    question, answers, doc_id = r["question"], r.get("answers", []), r.get("doc_id")
    if not (
        isinstance(question, str)
        and question.strip()
        and isinstance(answers, list)
        and all(isinstance(a, str) for a in answers)
        and (doc_id is None or isinstance(doc_id, str))
    ):
        raise InputError(
            f"{where}: 'question' must be text, 'answers' a list of texts and 'doc_id' a text"
        )
    news = any(k in r for k in _NEWS_KEYS)
    return EvalItem(
        str(r.get("id", where.rsplit(":", 1)[-1])),
        question,
        tuple(answers),
        doc_id,
        (),
        not bool(r.get("unanswerable")),
        as_of=_as_of(r.get("as_of"), where),
        history=_history(r.get("history", []), where),
        expect=expectations_from(r, where) if news else None,
    )


def _as_of(value: Any, where: str) -> date | None:
    from rag.time.phrases import parse_as_of

    if value is not None and not isinstance(value, str):
        raise InputError(f"{where}: 'as_of' must be an ISO date text")
    return parse_as_of(value, f"{where}: 'as_of'")


def _history(value: Any, where: str) -> tuple[Turn, ...]:
    """Earlier turns: question texts, or ``{"question", "answer"?}`` objects."""
    turns = []
    for turn in value if isinstance(value, list) else [None]:
        if isinstance(turn, str) and turn.strip():
            turns.append(Turn(turn))
        elif isinstance(turn, dict) and isinstance(turn.get("question"), str):
            turns.append(Turn(turn["question"], str(turn.get("answer") or "")))
        else:
            raise InputError(
                f'{where}: \'history\' must be a list of questions or {{"question", "answer"}}'
            )
    return tuple(turns)


def add_dataset_options(sp: Any, sample: int) -> None:
    """The options that pick questions and articles, shared by ``rag eval`` and ``rag train``."""
    sp.add_argument("--corpus", type=Path, help="articles for a .jsonl question file")
    sp.add_argument("--sample", type=int, default=sample, help="questions sampled (0: all)")
    sp.add_argument("--seed", type=int, default=13)
    sp.add_argument(
        "--holdout",
        type=int,
        default=None,
        help=f"SQuAD articles left out of the index (their questions are out of corpus; "
        f"default {HOLDOUT}, at most a third of the articles)",
    )


def dataset_from_args(args: Any) -> EvalSet:
    """The dataset the options of ``add_dataset_options`` (and a ``dataset`` path) name; one
    with no article to index or no question is an input error (there would be nothing to
    measure)."""
    if args.sample < 0:
        raise InputError("--sample must be 0 (all) or more")
    if args.holdout is not None and args.holdout < 0:
        raise InputError("--holdout must be 0 or more")
    evalset = load_dataset(
        args.dataset,
        corpus=args.corpus,
        holdout=args.holdout,
        sample=args.sample or None,
        seed=args.seed,
    )
    if not evalset.articles:
        where = args.corpus if args.corpus is not None else args.dataset
        raise InputError(f"no articles to index in {where}: nothing to evaluate")
    if not evalset.items:
        raise InputError(f"no questions in {args.dataset}: nothing to evaluate")
    return evalset
