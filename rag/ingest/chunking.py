"""Splitting articles into overlapping, token-sized chunks that keep exact offsets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rag.models import Article, Chunk
from rag.newsparts import QUOTABLE_VERSION
from rag.text import SPLITTER_VERSION

SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]


@dataclass(frozen=True)
class ChunkingParams:
    """Chunk size and overlap in model tokens, and the versions of the rules that cut sentences
    and pick the quotable ones; recorded with the index, which refuses additions made otherwise."""

    chunk_tokens: int = 254
    overlap_tokens: int = 40

    def to_dict(self) -> dict[str, Any]:
        return {
            "chunk_tokens": self.chunk_tokens,
            "overlap_tokens": self.overlap_tokens,
            "separators": SEPARATORS,
            "sentence_splitter_version": SPLITTER_VERSION,
            "quotable_rules_version": QUOTABLE_VERSION,
        }


class Chunker:
    """Sentence-friendly recursive splitting, sized with the embedding model's tokenizer."""

    def __init__(self, count_tokens: Callable[[str], int], params: ChunkingParams) -> None:
        # imported here: answering a question never chunks, and the library takes ~0.5 s
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        self.params = params
        self._splitter = RecursiveCharacterTextSplitter(
            length_function=count_tokens,
            chunk_size=params.chunk_tokens,
            chunk_overlap=params.overlap_tokens,
            separators=SEPARATORS,
            keep_separator="end",
            strip_whitespace=True,
        )

    def split(self, article: Article) -> list[Chunk]:
        """Chunks of ``article`` in order; ``article.text[c.start:c.end] == c.text``."""
        chunks: list[Chunk] = []
        cursor = 0
        for piece in self._splitter.split_text(article.text):
            start = article.text.find(piece, cursor)
            if start < 0:  # defensive: the splitter only cuts, so this should not happen
                start = article.text.find(piece)
            if start < 0:
                continue
            end = start + len(piece)
            chunks.append(
                Chunk(
                    doc_id=article.doc_id,
                    chunk_id=f"{article.doc_id}#{len(chunks)}",
                    start=start,
                    end=end,
                    text=piece,
                )
            )
            cursor = start + 1
        return chunks
