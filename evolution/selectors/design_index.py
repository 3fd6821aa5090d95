"""Read the designs list (/designs/): every design, filtered, sorted and cut into pages.

The query string is what a researcher typed or shared, so nothing in it may fail the page: unknown
values are dropped with a notice that says so, and a page past the end says how many pages there are.
Demo designs (`demo_history`) are left out unless asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Exists, Max, OuterRef, Q, QuerySet

from evolution.core.ladder import ladder
from evolution.models import Design, EvolutionRun, Verification
from evolution.selectors.designs import LIST_FIELDS, ORDERINGS

SORTS = {"newest": "newest first", "oldest": "oldest first", "fitness": "best fitness first",
         "-fitness": "worst fitness first"}
PAGE_SIZES = (10, 25, 50, 100)
DEFAULT_PAGE_SIZE = 50
TRUE = ("1", "true", "on", "yes")


@dataclass
class IndexQuery:
    """What the list shows, read from the query string; `notices` says what was ignored and why."""

    q: str = ""
    status: str = ""
    origin: str = ""
    mode: str = ""
    run: int | None = None
    rung: str = ""
    verified: bool = False
    demo: bool = False
    sort: str = "newest"
    per_page: int = DEFAULT_PAGE_SIZE
    page: int = 1
    notices: list[str] = field(default_factory=list)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> IndexQuery:
        query = cls()
        notices = query.notices

        def text(key: str) -> str:
            return str(params.get(key) or "").strip()

        def choice(key: str, allowed, what: str) -> str:
            value = text(key)
            if value and value not in allowed:
                notices.append(f"{what} {value!r} is not one of {', '.join(allowed)}: ignored.")
                return ""
            return value

        query.q = text("q")[:200]
        query.status = choice("status", Design.Status.values, "Status")
        query.origin = choice("origin", Design.OriginKind.values, "Origin")
        query.mode = choice("mode", operators(), "Operator")
        query.rung = choice("rung", [r.name for r in ladder()], "Rung")
        query.verified = text("verified").lower() in TRUE
        query.demo = text("demo").lower() in TRUE
        query.sort = text("sort") or "newest"
        if query.sort not in SORTS:
            notices.append(f"Sort {query.sort!r} is unknown: newest first.")
            query.sort = "newest"
        run = text("run")
        if run:
            query.run = _positive(run)
            if query.run is None or not EvolutionRun.objects.filter(pk=query.run).exists():
                notices.append(f"There is no run {run!r}: all runs are shown.")
                query.run = None
        size = _positive(text("per_page"))
        query.per_page = size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE
        page = text("page")
        query.page = _positive(page) or 1
        if page and str(query.page) != page:
            notices.append(f"Page {page!r} is not a page number: showing page 1.")
        return query

    @property
    def active(self) -> bool:
        """Whether anything narrows the list (the demo switch widens it)."""
        return any([self.q, self.status, self.origin, self.mode, self.run, self.rung, self.verified])


@dataclass
class IndexPage:
    """One page of the list, and what the template needs to draw the rest of the pages."""

    query: IndexQuery
    designs: list[Design]
    highest_rung: dict[int, str]  # design id -> the highest rung it was verified at
    total: int
    page: int
    pages: int
    out_of_range: bool  # the page asked for is past the last one: no rows, and a way back

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.query.per_page + 1 if self.designs else 0

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.designs) - 1 if self.designs else 0

    @property
    def page_links(self) -> list[int | None]:
        """Page numbers around this one, with the first and last; None marks a gap."""
        keep = {1, self.pages, *range(self.page - 2, self.page + 3)}
        numbers = sorted(n for n in keep if 1 <= n <= self.pages)
        links: list[int | None] = []
        for n in numbers:
            if links and links[-1] is not None and n - links[-1] > 1:
                links.append(None)
            links.append(n)
        return links


def _positive(value: str) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 1 <= number <= 2**31 - 1 else None


def operators() -> list[str]:
    """The operators designs were made with (mutation, crossover, scratch, seed, …), as stored."""
    return sorted(m for m in Design.objects.exclude(mode="").values_list("mode", flat=True).distinct())


def runs() -> list[EvolutionRun]:
    return list(EvolutionRun.objects.only("id", "name", "is_active"))


def filtered(query: IndexQuery) -> QuerySet[Design]:
    qs = Design.objects.all() if query.demo else Design.objects.real()
    if query.q:
        qs = qs.filter(Q(name__icontains=query.q) | Q(slug__icontains=query.q))
    if query.status:
        qs = qs.filter(status=query.status)
    if query.origin:
        qs = qs.filter(origin_kind=query.origin)
    if query.mode:
        qs = qs.filter(mode=query.mode)
    if query.run is not None:
        qs = qs.filter(run_id=query.run)
    done = Verification.objects.filter(design=OuterRef("pk"), status=Verification.Status.DONE)
    if query.rung:
        index = next(r.index for r in ladder() if r.name == query.rung)
        qs = qs.filter(Exists(done.filter(rung_index__gte=index)))
    if query.verified:
        qs = qs.filter(Exists(done))
    return qs.only(*LIST_FIELDS, "run__name").select_related("run").order_by(*ORDERINGS[query.sort])


def design_index(params: Mapping[str, Any]) -> IndexPage:
    query = IndexQuery.from_params(params)
    paginator = Paginator(filtered(query), query.per_page)
    total = paginator.count
    pages = max(1, paginator.num_pages)
    out_of_range = query.page > pages
    designs = [] if out_of_range else list(paginator.page(query.page).object_list)
    names = {r.index: r.name for r in ladder()}
    highest = (Verification.objects.filter(design__in=[d.id for d in designs], status=Verification.Status.DONE)
               .values("design_id").annotate(top=Max("rung_index")))
    return IndexPage(query=query, designs=designs,
                     highest_rung={row["design_id"]: names.get(row["top"], "") for row in highest},
                     total=total, page=query.page, pages=pages, out_of_range=out_of_range)
