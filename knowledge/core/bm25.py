"""Okapi BM25 keyword scores over the stored chunks.

Dense embeddings miss exact names ("RoPE", "S4D", "ALiBi") and rare terms; BM25 catches them. The index
is an in-memory inverted index (term -> chunk positions and counts) so a query costs only the postings of
its own terms; it is rebuilt from the store when the store changes (see `retrieval.py`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
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


#: A document is plain text, or its fields by name (BM25F: "title", "abstract", "body", ...).
Document = str | Mapping[str, str]


class BM25Index:
    """Inverted index with BM25F scoring (k1, b as in Robertson & Zaragoza; Lucene's non-negative idf).

    A document may have fields; a term's frequency is the sum over fields of weight x frequency, each
    normalised by that field's length (Robertson, Zaragoza & Taylor, 2004), then saturated once. So a
    title word counts more than the same word in a passage, and repeating it in many fields cannot run
    away. Plain strings are one field, "text", of weight 1: then this is Okapi BM25.
    """

    def __init__(
        self,
        documents: Iterable[Document],
        k1: float = 1.2,
        b: float = 0.75,
        field_weights: Mapping[str, float] | None = None,
    ) -> None:
        self.k1 = k1
        self.b = b
        self.field_weights = dict(field_weights or {})
        # field -> term -> (positions, counts); field -> lengths
        postings: dict[str, dict[str, tuple[list[int], list[int]]]] = {}
        lengths: dict[str, list[int]] = {}
        size = 0
        for position, document in enumerate(documents):
            size += 1
            fields = {"text": document} if isinstance(document, str) else document
            for name, text in fields.items():
                tokens = tokenize(text)
                field_lengths = lengths.setdefault(name, [])
                field_lengths.extend([0] * (position - len(field_lengths)))
                field_lengths.append(len(tokens))
                field_postings = postings.setdefault(name, {})
                for term, count in Counter(tokens).items():
                    entry = field_postings.get(term)
                    if entry is None:
                        entry = field_postings[term] = ([], [])
                    entry[0].append(position)
                    entry[1].append(count)
        self.size = size
        self._fields: dict[str, tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]] = {}
        document_frequency: dict[str, set[int]] = {}
        for name, field_postings in postings.items():
            field_lengths = lengths[name] + [0] * (size - len(lengths[name]))
            array = np.asarray(field_lengths, dtype=np.float32)
            average = float(array.mean()) if size else 0.0
            norm = 1.0 - b + b * array / max(average, 1e-9)
            self._fields[name] = (norm, {
                term: (np.asarray(docs, dtype=np.int32), np.asarray(counts, dtype=np.float32))
                for term, (docs, counts) in field_postings.items()
            })
            for term, (docs, _) in field_postings.items():
                document_frequency.setdefault(term, set()).update(docs)
        self._df = {term: len(docs) for term, docs in document_frequency.items()}

    def weight(self, field: str) -> float:
        return self.field_weights.get(field, 1.0)

    def __len__(self) -> int:
        return self.size

    def idf(self, term: str) -> float:
        df = self._df.get(term, 0)
        return math.log(1.0 + (self.size - df + 0.5) / (df + 0.5))

    def scores(self, query: str) -> np.ndarray:
        """BM25F score of every document for `query` (zero where no query term occurs)."""
        totals = np.zeros(self.size, dtype=np.float32)
        if not self.size:
            return totals
        for term, repeats in Counter(tokenize(query)).items():
            if term not in self._df:
                continue
            frequency = np.zeros(self.size, dtype=np.float32)
            for name, (norm, field_postings) in self._fields.items():
                entry = field_postings.get(term)
                weight = self.weight(name)
                if entry is None or weight <= 0:
                    continue
                docs, counts = entry
                frequency[docs] += weight * counts / norm[docs]
            hit = np.flatnonzero(frequency)
            tf = frequency[hit]
            totals[hit] += repeats * self.idf(term) * tf * (self.k1 + 1.0) / (tf + self.k1)
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
