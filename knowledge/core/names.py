"""Short names of papers ("Mamba", "RetNet", "FlashAttention", "S4") and finding them in a query.

Researchers ask for a method by its name, and a name is rare evidence of which paper is meant: "Mamba"
occurs in the titles of a dozen papers about Mamba, but only one paper *is* Mamba. A paper's names come
from its title and abstract, never from a hand-made list:

- the head of a title before a colon when it is short: "Mamba: Linear-Time Sequence Modeling..." ->
  "Mamba", "Big Bird: Transformers for Longer Sequences" -> "Big Bird";
- an acronym in parentheses in the title: "... Attention Unit (GAU)";
- the paper id when the title or abstract spells it as a word with a capital or a digit
  ("retnet" -> "RetNet", "s5" -> "S5"), or the id without its version ("rwkv4" -> "RWKV");
- weaker: what the abstract says it proposes ("we propose SelfExtend", "Dual Chunk Attention (DCA)") and
  the first word of a title's head ("Hyena Hierarchy" -> "Hyena").

A name that more than two papers claim as strongly, or a weak name that two papers claim or four papers use,
is a topic ("SSMs", "LLM"), and is dropped. A name that is also an ordinary word ("BASED", "ETC", "FIRE")
matches only when the query spells it with the same capitals, and a capitalised plain word ("Dual",
"Context") is never a name; the others match in any case, with spaces and hyphens ignored ("flash
attention", "Transformer-XL").
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’^∞π-]*")
_PROPOSE = re.compile(
    r"\b(?:we|this paper|this work)\s+(?:\w+\s+){0,2}?(?:propose|present|introduce|call|name|dub)s?d?\s+"
    r"(?:(?:a|an|the)\s+)?(?:(?:new|novel|simple|general)\s+)?(?:\w+\s+){0,1}?"
    r"([A-Z][A-Za-z0-9]*[A-Z0-9][A-Za-z0-9-]*|[A-Z][a-z]+[A-Z][A-Za-z0-9-]*|[A-Z][a-z]{2,})\b"
)
_DEFINED = re.compile(r"\(([A-Z][A-Za-z0-9-]{1,15})\)")
#: How many words a title's head may have to count as a name ("Hyena Hierarchy", "Big Bird").
MAX_NAME_WORDS = 3
#: Longest run of query words joined into one name ("flash attention" -> "flashattention").
MAX_JOINED = 3
#: Words a title's head or a proposal may start with that are never names.
_NOT_NAMES_TEXT = (
    "a an the this our we it in on of for to and or with via how why when what which is are can do does "
    "towards toward beyond efficient simple fast scalable improving learning language large long deep "
    "transformer transformers attention model models network networks"
)
_NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split(" "))


def normalise(name: str) -> str:
    """"Flash-Attention" -> "flashattention", "S4++" -> "s4pp": lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", name.lower().replace("+", "p"))


def _is_name_like(surface: str) -> bool:
    """A name has a capital or a digit ("Mamba", "S4", "RetNet"); plain lower-case words are not names."""
    return any(c.isupper() or c.isdigit() for c in surface) and len(normalise(surface)) >= 2


def _title_case(surface: str) -> bool:
    """"Context", "Dual": a capital only because the word starts a title or a sentence."""
    letters = [c for c in surface if c.isalpha()]
    return bool(letters) and letters[0].isupper() and all(c.islower() for c in letters[1:]) and not any(
        c.isdigit() for c in surface)


#: Where a name comes from, strongest first: a weak name is dropped when it is shared or common.
TITLE, PAPER_ID, PROPOSED = 0, 1, 2


def candidate_names(paper_id: str, title: str, abstract: str) -> dict[str, int]:
    """The surface forms a paper may be called by, each with its source (TITLE, PAPER_ID or PROPOSED)."""
    names: dict[str, int] = {}

    def add(name: str, source: int) -> None:
        name = name.strip(" ,;.-")
        if name and name.lower() not in _NOT_NAMES and _is_name_like(name):
            names[name] = min(source, names.get(name, source))

    title = title.strip()
    if ":" in title:
        head = title.split(":", 1)[0].strip()
        words = head.split()
        if 1 <= len(words) <= MAX_NAME_WORDS and words[0].lower() not in _NOT_NAMES:
            add(head, TITLE)
            if len(words) > 1:
                add(words[0], PROPOSED)  # "Hyena Hierarchy" is also "Hyena" (unless a common word)
    for acronym in _DEFINED.findall(title):
        add(acronym, TITLE)
    words = [w.strip("-'’") for w in _WORD.findall(f"{title} {abstract}")]
    wanted = normalise(paper_id)
    exact = next((w for w in words if normalise(w) == wanted and _is_name_like(w)), None)
    if exact is None and wanted.rstrip("0123456789") != wanted:  # "rwkv4" is the paper of "RWKV"
        stem = wanted.rstrip("0123456789")
        exact = next((w for w in words if normalise(w) == stem and _is_name_like(w)), None)
    if exact:
        add(exact, PAPER_ID)
    for match in _PROPOSE.finditer(abstract):
        if not _title_case(match.group(1)):  # "we propose Dual Chunk Attention": "Dual" is no name
            add(match.group(1), PROPOSED)
        defined = _DEFINED.search(abstract[match.end(1): match.end(1) + 80])
        if defined and defined.start() < 60:
            add(defined.group(1), PROPOSED)
    for match in re.finditer(r"\b(?:propose|present|introduce)s?d?\s+(?:(?:a|an|the)\s+)?(?:new\s+|novel\s+)?"
                             r"(?:[A-Z][\w-]*\s+){1,4}\(([A-Z][A-Za-z0-9-]{1,15})\)", abstract):
        add(match.group(1), PROPOSED)
    return names


@dataclass(frozen=True)
class NameMatch:
    paper_id: str
    name: str  # the surface form the paper uses
    position: int  # index of the first query word it covers (earlier names first)


#: Plain words that no abstract happens to spell in lower case but a query may ("etc.").
_COMMON = frozenset(["etc", "via", "pi", "just", "text", "time", "big", "peer", "ring"])
#: A weak name used as a word by this many papers is a topic ("LLM", "SSM"), not a paper's name.
COMMON_IN_PAPERS = 4


class NameIndex:
    """Which papers a query names. Built from (paper id, title, abstract) of every paper."""

    def __init__(self, papers: Iterable[tuple[str, str, str]]) -> None:
        claims: dict[str, dict[str, int]] = defaultdict(dict)  # key -> paper -> best source
        surfaces: dict[tuple[str, str], set[str]] = defaultdict(set)
        lower_in: dict[str, int] = defaultdict(int)  # word -> papers that use it in lower case
        used_in: dict[str, int] = defaultdict(int)  # normalised word -> papers that use it at all
        for paper_id, title, abstract in papers:
            words = _WORD.findall(f"{title} {abstract}")
            parts = {p for w in words for p in re.split(r"[-'’]", w) if p}
            for word in {w for w in parts if w.islower()} | {w for w in words if w.islower()}:
                lower_in[normalise(word)] += 1
            for key in {normalise(w) for w in words} | {normalise(p) for p in parts}:
                used_in[key] += 1
            for name, source in candidate_names(paper_id, title, abstract).items():
                key = normalise(name)
                previous = claims[key].get(paper_id, source)
                claims[key][paper_id] = min(previous, source)
                surfaces[(key, paper_id)].add(name)
        #: normalised name -> [(paper id, surface forms, case-sensitive?)], strongest claim first
        self.names: dict[str, list[tuple[str, frozenset[str], bool]]] = {}
        for key, by_paper in claims.items():
            strongest = min(by_paper.values())
            papers_ = sorted((p for p, s in by_paper.items() if s == strongest))
            if len(papers_) > 2 or (strongest == PROPOSED and (len(papers_) > 1 or used_in[key] >= COMMON_IN_PAPERS)):
                continue  # a topic several papers share, not a name
            ordinary = key in _COMMON or lower_in[key] >= 2  # "based", "ring", "mega" are also words
            entries = []
            for paper_id in papers_:
                forms = frozenset(f for f in surfaces[(key, paper_id)] if not (ordinary and _title_case(f)))
                if forms:
                    entries.append((paper_id, forms, ordinary))
            if entries:
                self.names[key] = entries

    def __len__(self) -> int:
        return len(self.names)

    def names_of(self, paper_id: str) -> set[str]:
        return self.by_paper().get(paper_id, set())

    def by_paper(self) -> dict[str, set[str]]:
        """paper id -> the surface forms of its names."""
        out: dict[str, set[str]] = defaultdict(set)
        for entries in self.names.values():
            for paper_id, forms, _ in entries:
                out[paper_id].update(forms)
        return dict(out)

    def find(self, query: str) -> list[NameMatch]:
        """Papers named in `query`, in query order; the longest name wins where names overlap."""
        words = [w.strip("-'’") for w in _WORD.findall(query)]
        words = [w for w in words if w]
        found: list[NameMatch] = []
        seen: set[str] = set()
        position = 0
        while position < len(words):
            matched = 0
            for span in range(min(MAX_JOINED, len(words) - position), 0, -1):
                piece = words[position: position + span]
                entries = self.names.get(normalise("".join(piece)))
                if not entries:
                    continue
                surface = " ".join(piece)
                hits = [(pid, forms) for pid, forms, ordinary in entries
                        if not ordinary or any(_same_case(surface, form) for form in forms)]
                if not hits:
                    continue
                for pid, forms in hits:
                    if pid not in seen:
                        seen.add(pid)
                        found.append(NameMatch(pid, sorted(forms)[0], position))
                matched = span
                break
            position += matched or 1
        return found


def _same_case(surface: str, form: str) -> bool:
    """"BASED" matches "BASED" and "Based"-less queries do not: capitals must agree, spacing need not."""
    return re.sub(r"[^A-Za-z0-9+]", "", surface) == re.sub(r"[^A-Za-z0-9+]", "", form)
