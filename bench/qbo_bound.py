"""The shortest wall time QBO's limits permit for a cold backfill, computed from the work.

Pure (no clock, no I/O): `tests/unit/test_qbo_bound.py` checks it against hand-computed cases.

The limits (Intuit, "API call limits and throttles"), all at once, as the emulator enforces them
(`reconciler/sandbox/qbo/limits.py`): 10 requests a second, 500 a minute, at most 10 in flight,
40 batch requests a minute (one app; 120 a minute per company over all apps), up to 30 items
a batch; a batch request is one request toward the per-second and per-minute limits too. The
windows slide: no span of 1 s (60 s) admits more than its limit.

The work of a cold backfill (`Work.cold_backfill`): N POs, S suppliers and P products, none of
them in QBO at start (the accounts exist):

- reference look-ups, one read request each: ceil(S/100) vendor queries; for the items the
  cheaper of 2 ceil(P/100) `IN (...)` queries (by SKU and by name; up to 100 values each) and
  a count with one page of the whole item table (a company with under 1,000 items:
  `reconciler/resolve/listing.py`); a few account queries;
- S + P reference creates (writes);
- ceil(N/g) DocNumber look-ups, one read request each (one `IN (...)` query per group of g
  creates: the client's group size, 30 by default; g = 0 for none);
- N PO creates (writes).

Any write travels in a /batch of up to 30 or alone; every request takes the round trip
(`latency`) from its admission to its answer. Dependencies: no reference create before the
reference look-ups have answered; no PO create before the reference creates have answered (a PO
needs its vendor and its items, and with 1 to 5 lines drawn from P products nearly every group
of 30 POs needs most of them: references first is what the data asks for), nor before its
group's DocNumber look-up has answered. DocNumber look-ups depend on nothing. (Queries could
travel in a /batch too; the work counts them as the client sends them, one request each.)

- `min_makespan`: the makespan of the best schedule found (a feasible schedule: every
  admission is listed, and the tests check every limit on it independently);
- `lower_bound`: a makespan no schedule beats, by counting (the tests check the schedule meets
  it at N = 1,000 and comes within 3 s, under 1 %, at N = 10,000);
- `binding_limits`: which limits (and whether the dependencies) bind, by lifting each;
- `mix_lower_bound`: the same counting for the request mix a client actually sent (what its
  own mix allows, which a poor mix makes look better than it is).
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

US = 1_000_000  # the simulation counts whole microseconds: no float drift across windows
IN_VALUES = 100  # values in one IN (...) look-up


@dataclass(frozen=True)
class Limits:
    """QBO's limits for one company and one app; None lifts a limit (to see which binds)."""

    per_second: int | None = 10
    per_minute: int | None = 500
    batches_per_minute: int | None = 40  # per app (120 per company over every app)
    in_flight: int | None = 10
    batch_items: int = 30


@dataclass(frozen=True)
class Work:
    """What a backfill has to do, whatever request mix a client chooses."""

    ref_lookups: int  # reads; every reference create waits for all of them
    ref_creates: int  # writes; every PO create waits for all of them
    po_creates: int  # writes
    group_size: int = 30  # PO creates per DocNumber look-up (the client's group); 0: none

    @property
    def docnumber_lookups(self) -> int:
        return math.ceil(self.po_creates / self.group_size) if self.group_size else 0

    @property
    def reads(self) -> int:
        return self.ref_lookups + self.docnumber_lookups

    @property
    def writes(self) -> int:
        return self.ref_creates + self.po_creates

    @classmethod
    def cold_backfill(
        cls,
        pos: int,
        suppliers: int,
        products: int,
        *,
        account_queries: int = 3,
        group_size: int = 30,
        item_listing: bool = False,
    ) -> Work:
        """N POs, S suppliers and P products, all missing in QBO (the accounts exist).
        `item_listing`: the company holds under 1,000 items, so one page lists them all."""
        item_lookups = 2 * math.ceil(products / IN_VALUES)
        if item_listing:  # a count and one page, when that is fewer
            item_lookups = min(item_lookups, 2)
        lookups = math.ceil(suppliers / IN_VALUES) + item_lookups
        return cls(lookups + account_queries, suppliers + products, pos, group_size)


@dataclass(frozen=True)
class Schedule:
    """A schedule of the work: its makespan, its request mix and every admission."""

    makespan_s: float  # from the first admission to the last answer
    reads: int
    batches: int  # /batch requests (writes)
    single_writes: int
    refs_answered_s: float  # the last reference create answered: POs may go from here
    peak_per_second: int
    peak_per_minute: int
    peak_batches_per_minute: int
    ref_tail: str  # the last (S + P) mod 30 reference creates: in one "batch", or "single"
    # every admission: (microseconds, kind, writes carried); kinds: ref_lookup, ref, doc_lookup, po
    admissions: tuple[tuple[int, str, int], ...] = dataclasses.field(repr=False, default=())

    @property
    def requests(self) -> int:
        return self.reads + self.batches + self.single_writes


def min_makespan(
    work: Work, latency: float, limits: Limits = Limits(), *, dependencies: bool = True
) -> Schedule:
    """The shortest schedule of `work` under every limit at once (module docstring: the model).

    The schedule is event-driven and greedy: at every moment a request may be admitted (each
    window has room, a slot in flight is free) it admits the first of these that is ready:

    1. a reference look-up (they head the longest chain: look-up, reference create, PO create);
    2. a reference create: 30 to a /batch while the batch window has room, else alone;
    3. 30 PO creates (whose groups' look-ups have answered) in a /batch, if the window has room
       (the job's last POs: fewer than 30);
    4. a DocNumber look-up;
    5. a PO create alone, when the batch window is full.

    Why it is optimal, or nearly:

    - Every request, a read, a batch or a single, costs one unit of every request limit (10 a
      second, 500 a minute, 10 in flight), so the work is done soonest by admitting the fewest
      requests, each as soon as the windows allow ("as soon as possible" never delays a later
      request in a sliding window: slots free up in the order they were taken).
    - Fewest requests: a batch carries 30 writes for one unit, a single one; the batch budget
      (40 a minute) goes to full batches as soon as it frees (an unused batch slot is not
      saved: the window slides on), and writes go alone only while it is spent, in the request
      budget the batches leave (460 a minute). In every 60 s after the first ones the greedy
      admits 40 x 30 writes in batches and fills the rest of the 500 with look-ups and singles.
    - Dependencies cost only the round trips they force: the chain goes first, and the
      DocNumber look-ups (which depend on nothing) fill the slots the round trips leave empty;
      they go before single PO creates, so POs for full batches are ready when a batch slot
      frees. The one real choice is the references' tail ((S + P) mod 30 creates): a partial
      batch answers in one round trip but spends a slot 30 POs could use. Both are simulated
      and the shorter schedule is returned.
    - Where it may fall short, and by how much: in the first minute each PO batch needs its
      DocNumber look-up answered first (and a second's 10 slots hold both), so the minute's 40
      batches spread over 1 to 7 s; a batch slot frees only 60 s after it was taken, so every
      later minute's batch slots come in that pattern, while `lower_bound` counts the last
      minute's 40 as free at its start. And with nothing to fill the chain's round trips (no
      DocNumber look-ups), a round trip can be lost once. The tests pin the gap: none at
      N = 1,000, 3 s of 365 (0.8 %) at N = 10,000, one round trip without look-ups; the
      bench prints both figures.

    `dependencies=False` drops the dependencies (to see what the chain costs).
    """
    schedules = [
        _Simulation(work, latency, limits, ref_tail, dependencies).run()
        for ref_tail in ("batch", "single")
    ]
    return min(schedules, key=lambda s: (s.makespan_s, s.requests))


class _Window:
    """Admissions inside the last `span` microseconds (an entry counts until entry + span)."""

    def __init__(self, limit: int | None, span_s: int) -> None:
        self.limit = limit
        self.span = span_s * US
        self.times: deque[int] = deque()
        self.peak = 0

    def room(self, now: int) -> int:
        while self.times and self.times[0] <= now - self.span:
            self.times.popleft()
        return self.limit - len(self.times) if self.limit is not None else 1 << 60

    def add(self, now: int) -> None:
        self.times.append(now)
        self.peak = max(self.peak, len(self.times))


class _Simulation:
    """One greedy schedule (see `min_makespan`); times in microseconds."""

    def __init__(
        self, work: Work, latency: float, limits: Limits, ref_tail: str, dependencies: bool
    ) -> None:
        self.work, self.limits, self.ref_tail, self.dependencies = (
            work,
            limits,
            ref_tail,
            dependencies,
        )
        self.lat = round(latency * US)
        self.per_second = _Window(limits.per_second, 1)
        self.per_minute = _Window(limits.per_minute, 60)
        self.batch_window = _Window(limits.batches_per_minute, 60)
        self.now = 0
        self.in_flight: list[int] = []  # answer times (a heap)
        self.trace: list[tuple[int, str, int]] = []
        self.ref_lookups_left = work.ref_lookups
        self.ref_lookups_answered = 0  # when the last one sent answers
        self.refs_left = work.ref_creates
        self.refs_answered = 0
        groups = []
        if work.group_size:
            groups = [work.group_size] * (work.po_creates // work.group_size)
            if work.po_creates % work.group_size:
                groups.append(work.po_creates % work.group_size)
        self.groups = deque(groups)  # POs each DocNumber look-up still to send covers
        self.unlocks: list[tuple[int, int]] = []  # (answer time, POs it covers), a heap
        self.pos_unlocked = work.po_creates if not (dependencies and groups) else 0
        self.pos_sent = 0

    def run(self) -> Schedule:
        while self._work_left():
            while self._room() > 0 and self._admit_next():
                pass
            if self._work_left():
                self.now = self._next_event()
        kinds = [(kind, items) for _, kind, items in self.trace]
        batches = sum(1 for kind, items in kinds if kind in ("ref", "po") and items > 1)
        singles = sum(1 for kind, items in kinds if kind in ("ref", "po") and items == 1)
        # (a "batch" of one write is a single: the greedy sends one only for a last PO)
        return Schedule(
            makespan_s=max((t + self.lat for t, _, _ in self.trace), default=0) / US,
            reads=sum(1 for kind, _ in kinds if kind.endswith("lookup")),
            batches=batches,
            single_writes=singles,
            refs_answered_s=self.refs_answered / US,
            peak_per_second=self.per_second.peak,
            peak_per_minute=self.per_minute.peak,
            peak_batches_per_minute=self.batch_window.peak,
            ref_tail=self.ref_tail,
            admissions=tuple(self.trace),
        )

    def _work_left(self) -> bool:
        return bool(
            self.ref_lookups_left
            or self.refs_left
            or self.groups
            or self.pos_sent < self.work.po_creates
        )

    def _room(self) -> int:
        """Requests that may be admitted at `now` (after taking in the answers due by then)."""
        while self.in_flight and self.in_flight[0] <= self.now:
            heapq.heappop(self.in_flight)
        while self.unlocks and self.unlocks[0][0] <= self.now:
            self.pos_unlocked += heapq.heappop(self.unlocks)[1]
        room = min(self.per_second.room(self.now), self.per_minute.room(self.now))
        if self.limits.in_flight is not None:
            room = min(room, self.limits.in_flight - len(self.in_flight))
        return room

    def _admit_next(self) -> bool:
        """Admit the first ready request in priority order; False when none is ready."""
        now, size = self.now, self.limits.batch_items
        batch_room = self.batch_window.room(now) > 0
        refs_ready = not self.dependencies or (
            self.ref_lookups_left == 0 and self.ref_lookups_answered <= now
        )
        pos_ready = not self.dependencies or (self.refs_left == 0 and self.refs_answered <= now)
        po_ready = self.pos_unlocked - self.pos_sent if pos_ready else 0
        last_pos = po_ready == self.work.po_creates - self.pos_sent
        if self.ref_lookups_left:
            self.ref_lookups_left -= 1
            self.ref_lookups_answered = self._admit("ref_lookup", 0)
        elif self.refs_left and refs_ready:
            take = min(size, self.refs_left)
            if not batch_room or (take < size and self.ref_tail == "single"):
                take = 1
            self.refs_left -= take
            self.refs_answered = self._admit("ref", take, batch=take > 1)
        elif po_ready and batch_room and (po_ready >= size or last_pos):
            take = min(size, po_ready)
            self.pos_sent += take
            self._admit("po", take, batch=take > 1)
        elif self.groups:
            heapq.heappush(self.unlocks, (self._admit("doc_lookup", 0), self.groups.popleft()))
        elif po_ready and not batch_room:
            self.pos_sent += 1
            self._admit("po", 1)
        else:
            return False  # fewer POs than a batch are ready and more will be: wait for them
        return True

    def _admit(self, kind: str, writes: int, *, batch: bool = False) -> int:
        """Count one request in at `now`; its answer time."""
        self.trace.append((self.now, kind, writes))
        self.per_second.add(self.now)
        self.per_minute.add(self.now)
        if batch:
            self.batch_window.add(self.now)
        answer = self.now + self.lat
        heapq.heappush(self.in_flight, answer)
        return answer

    def _next_event(self) -> int:
        """The next moment anything can change: an answer, or a window letting an entry go."""
        candidates = [self.in_flight[0]] if self.in_flight else []
        candidates += [self.unlocks[0][0]] if self.unlocks else []
        for window in (self.per_second, self.per_minute, self.batch_window):
            if window.times and window.limit is not None:
                candidates.append(window.times[0] + window.span)
        later = [t for t in candidates if t > self.now]
        if not later:
            raise RuntimeError("the schedule is stuck: no answer or window to wait for")
        return min(later)


def lower_bound(work: Work, latency: float, limits: Limits = Limits()) -> float:
    """A makespan no schedule of `work` beats: counting admissions, and the chain.

    Counting: if the last request is admitted at A, every admission lies in [0, A]. Cover it
    with floor(A / 60) windows of 60 s and the rest, r = A mod 60: each window admits at most
    500 requests and 40 batches, the rest at most min(500, 10 (floor(r) + 1)) requests (10 a
    second) and as many batches, up to 40; and no stretch of one round trip admits more than 10
    (in flight). With b batches (each of references or of POs: never both) the work needs
    reads + b + the writes the b fullest batches cannot carry: the fewest with b as large as the
    batch budget allows. The makespan is at least A + latency.

    Chain: the reference look-ups, a round trip, the reference creates (at best all in
    batches), a round trip, a PO create and its round trip.
    """
    size = limits.batch_items
    # what each batch can carry, fullest first: references and POs never share one (a PO
    # waits for the references' answers), so each kind may leave one partial batch
    loads = sorted(
        [size] * (work.ref_creates // size + work.po_creates // size)
        + [n for n in (work.ref_creates % size, work.po_creates % size) if n > 1],
        reverse=True,
    )

    def fits(a: float) -> bool:
        cap_requests, cap_batches = _capacity(a, latency, limits)
        b = min(len(loads), cap_batches)
        return work.reads + b + work.writes - sum(loads[:b]) <= cap_requests

    counting = _earliest(fits, latency) + latency if work.reads or work.writes else 0.0
    ref_depth = (2 if work.ref_lookups else 1) if work.ref_creates else 0
    po_depth = max(2 if work.group_size else 1, ref_depth + 1) if work.po_creates else 0
    chain = latency * max(1 if work.reads else 0, ref_depth, po_depth)
    if work.ref_creates and work.po_creates:
        ref_requests = math.ceil(work.ref_creates / size)  # (all in batches: the fewest)

        def admitted(n: int) -> float:  # the earliest the n-th request can be admitted
            return _earliest(lambda a: _capacity(a, latency, limits)[0] >= n, latency)

        lookups_answered = admitted(work.ref_lookups) + latency if work.ref_lookups else 0.0
        refs_admitted = max(lookups_answered, admitted(work.ref_lookups + ref_requests))
        chain = max(chain, refs_admitted + 2 * latency)
    return max(counting, chain)


def mix_lower_bound(
    requests: int, batches: int, latency: float, limits: Limits = Limits()
) -> float:
    """The shortest makespan the limits allow for a given request mix (counting alone)."""

    def fits(a: float) -> bool:
        cap_requests, cap_batches = _capacity(a, latency, limits)
        return requests <= cap_requests and batches <= cap_batches

    return _earliest(fits, latency) + latency if requests else 0.0


def _capacity(a: float, latency: float, limits: Limits) -> tuple[int, int]:
    """At most how many requests, and batches, any schedule admits in [0, a]."""

    def short(x: float) -> int:  # the per-second and in-flight limits over [0, x]
        cap = 1 << 60
        if limits.per_second is not None:
            cap = min(cap, limits.per_second * (math.floor(x + 1e-9) + 1))
        if limits.in_flight is not None and latency > 0:
            cap = min(cap, limits.in_flight * (math.floor(x / latency + 1e-9) + 1))
        return cap

    minutes, rest = divmod(a, 60.0)
    requests = short(a)
    if limits.per_minute is not None:
        per = limits.per_minute
        requests = min(requests, per * int(minutes) + min(per, short(rest)))
    batches = requests
    if limits.batches_per_minute is not None:
        per = limits.batches_per_minute
        batches = min(batches, per * int(minutes) + min(per, short(rest)))
    return requests, batches


def _earliest(fits: Callable[[float], bool], latency: float) -> float:
    """The least a with fits(a), a from whole seconds and whole round trips (where the
    capacities step); fits must be monotone."""
    step = latency if latency > 0 else 1.0
    seconds = trips = 0
    while seconds < 10_000_000:
        a = min(float(seconds), trips * step)
        if fits(a):
            return a
        if seconds <= trips * step:
            seconds += 1
        else:
            trips += 1
    raise ValueError("no schedule within 10,000,000 s")


RELAXATIONS: dict[str, dict[str, None]] = {
    "10 requests/s": {"per_second": None},
    "500 requests/min": {"per_minute": None},
    "10/s and 500/min together": {"per_second": None, "per_minute": None},
    "40 batches/min": {"batches_per_minute": None},
    "10 in flight": {"in_flight": None},
}


def binding_limits(
    work: Work, latency: float, limits: Limits = Limits(), *, tolerance: float = 0.02
) -> dict[str, object]:
    """Which limits bind: the makespan with each lifted, and with no dependencies.

    A limit binds when lifting it shortens the makespan by more than `tolerance` (2 %). The
    per-second and per-minute request limits are also lifted together: when both bind, lifting
    either alone leaves the other. Listed by what lifting them saves, most first."""
    base = min_makespan(work, latency, limits).makespan_s
    without: dict[str, float] = {}
    for name, change in RELAXATIONS.items():
        if any(getattr(limits, field) is not None for field in change):
            relaxed = dataclasses.replace(limits, **change)
            without[name] = min_makespan(work, latency, relaxed).makespan_s
    without["dependencies"] = min_makespan(work, latency, limits, dependencies=False).makespan_s
    binding = sorted(
        (name for name, value in without.items() if value < base * (1 - tolerance)),
        key=lambda name: without[name],
    )
    return {"makespan_s": base, "binding": binding, "makespan_without_s": without}
