"""Okapi BM25 keyword scores over the stored chunks.

Dense embeddings miss exact names ("RoPE", "S4D", "ALiBi") and rare terms; BM25 catches them. The index
is an in-memory inverted index (term -> chunk positions and counts) so a query costs only the postings of
its own terms; it is rebuilt from the store when the store changes (see `retrieval.py`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np

_TOKEN = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")

STOPWORDS = frozenset(
    ["a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "myself", "no", "nor", "not", "now", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "yourself", "yourselves", "via", "using", "use", "used", "also", "we", "our", "et", "al", "e", "g", "i", "e", "eg", "ie"]
)


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """A light suffix stripper: enough to match "models"/"modeling" and "gate"/"gated"/"gating", no more."""
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix, replacement in (("ational", "ate"), ("ization", "ize"), ("ies", "y"), ("sses", "ss")):
        if word.endswith(suffix):
            word = word[: -len(suffix)] + replacement
            break
    else:
        for suffix in ("ing", "ed"):
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                word = word[: -len(suffix)]
                if word[-1] == word[-2] and word[-1] not in "sl" or word.endswith("ll") and len(word) > 5:
                    word = word[:-1]  # "modelling" -> "model", "gapped" -> "gap"
                break
        else:
            if word.endswith("s") and not word.endswith(("ss", "us", "is", "as")):
                word = word[:-1]
    if word.endswith("e") and len(word) >= 4:
        word = word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Lower-cased word stems without stop words; hyphenated names ("state-space") also give their parts."""
    tokens: list[str] = []
    for raw in _TOKEN.findall(text.lower()):
        if "-" in raw or "'" in raw:
            parts = [p for p in re.split(r"[-']", raw) if p]
            tokens.extend(stem(p) for p in parts if p not in STOPWORDS)
            tokens.append(raw.replace("-", "").replace("'", ""))
        elif raw not in STOPWORDS:
            tokens.append(stem(raw))
    return tokens


class BM25Index:
    """Inverted index with Okapi BM25 scoring (k1, b as in Robertson & Zaragoza; Lucene's non-negative idf)."""

    def __init__(self, documents: Iterable[str], k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        postings: dict[str, tuple[list[int], list[int]]] = {}
        lengths: list[int] = []
        for position, text in enumerate(documents):
            tokens = tokenize(text)
            lengths.append(len(tokens))
            for term, count in Counter(tokens).items():
                entry = postings.get(term)
                if entry is None:
                    entry = postings[term] = ([], [])
                entry[0].append(position)
                entry[1].append(count)
        self.size = len(lengths)
        self.lengths = np.asarray(lengths, dtype=np.float32)
        self.average_length = float(self.lengths.mean()) if self.size else 0.0
        self._postings = {
            term: (np.asarray(docs, dtype=np.int32), np.asarray(counts, dtype=np.float32))
            for term, (docs, counts) in postings.items()
        }

    def __len__(self) -> int:
        return self.size

    def idf(self, term: str) -> float:
        entry = self._postings.get(term)
        df = 0 if entry is None else len(entry[0])
        return math.log(1.0 + (self.size - df + 0.5) / (df + 0.5))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every document for `query` (zero where no query term occurs)."""
        totals = np.zeros(self.size, dtype=np.float32)
        if not self.size:
            return totals
        norm = self.k1 * (1.0 - self.b + self.b * self.lengths / max(self.average_length, 1e-9))
        for term, weight in Counter(tokenize(query)).items():
            entry = self._postings.get(term)
            if entry is None:
                continue
            docs, counts = entry
            totals[docs] += weight * self.idf(term) * counts * (self.k1 + 1.0) / (counts + norm[docs])
        return totals

    def top(self, query: str, n: int, allowed: Sequence[bool] | np.ndarray | None = None) -> list[tuple[int, float]]:
        """The `n` best (position, score) pairs with a positive score, among `allowed` positions if given."""
        totals = self.scores(query)
        if allowed is not None:
            totals = np.where(np.asarray(allowed, dtype=bool), totals, 0.0)
        candidates = np.flatnonzero(totals > 0)
        if candidates.size == 0:
            return []
        if candidates.size > n:
            best = candidates[np.argpartition(-totals[candidates], n - 1)[:n]]
        else:
            best = candidates
        order = best[np.argsort(-totals[best], kind="stable")]
        return [(int(i), float(totals[i])) for i in order]
