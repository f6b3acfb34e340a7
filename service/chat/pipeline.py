"""One conversation turn: session → read the message → constraints → retrieve → (personalize) → prompt →
provider chain (once, through the shared flow) → validate output → respond → session saved.

A turn is never cached (``Flow.run(key=None)``): it depends on the whole conversation. Streaming works as
for ``/v1/recommend``: ``understood`` first, then the answer as the model writes it.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from cachetools import LRUCache

from service.catalog.load import Catalog
from service.catalog.product import Product
from service.chat.answers import answer_question, answer_value, compare, grounded
from service.chat.attributes import AttributeIndex, has_attribute, measure
from service.chat.clarify import Question, clarifying_question
from service.chat.reading import Reading, read, vague
from service.chat.session import Session, SessionStore, SessionStoreDown, Turn
from service.chat.state import Bound, Constraints, advance
from service.copywriting.grounding import ProductFacts, product_facts
from service.errors import NotFound, ServiceUnavailable
from service.ops.metrics import Metrics
from service.ops.privacy import Redactor
from service.ops.trace import RequestTrace
from service.output.explain import fact_summary, format_price
from service.output.prose import usable
from service.output.reconcile import ReasonCheck, candidate_item, reconcile
from service.output.sanitize import ProseSanitizer, own_data
from service.output.schema import RECOMMEND_SCHEMA_NAME, RecommendOutput, recommend_schema
from service.personalize.step import Personalizer
from service.pipeline.ask import Asker, Usage
from service.pipeline.flow import Flow, Outcome
from service.prompt.facts import active_filters, prompt_facts
from service.prompt.language import answer_language, is_chinese, language_name
from service.prompt.recommend import COMPACT, compact_request
from service.prompt.render import PromptRenderer
from service.provider.base import ChatRequest
from service.provider.chain import AllProvidersFailed, ProviderChain
from service.respond.chat import ChatResponse, ChatTranscript
from service.retrieve.base import Candidate, Retriever
from service.retrieve.filters import category_segments, fold, merge_filters, passes
from service.retrieve.understand import QueryUnderstanding
from service.settings import Settings
from service.stream.output import OutputStream
from service.validate.chat import ChatTurnRequest
from service.validate.recommend import Filters, RecommendRequest

log = logging.getLogger(__name__)

ENDPOINT = "chat"
# what query understanding blanks out of the words (catalog terms stay in them: they are the topic)
_BLANKING = {"price_min", "price_max", "currency", "cheap", "premium", "exclude_terms", "exclude_brands", "in_stock"}
Mode = Literal["browse", "compare", "question", "clarify"]



@dataclass
class Opened:
    """A conversation ready for a turn: the session, and whether the store could be reached."""

    session: Session
    stateless: bool = False
    new: bool = False  # opened by this turn and not stored yet (an anonymous shopper's first turn)
    started: float = field(default_factory=time.monotonic)
    session_ms: float = 0.0


@dataclass
class Plan:
    """What a turn will do, once the message is read."""

    mode: Mode
    constraints: Constraints
    filters: Filters
    referred: list[str]
    candidates: list[Candidate]
    k: int
    note: str | None = None  # said instead of asking the model (nothing matches, nothing cheaper)
    question: Question | None = None
    dimension: str | None = None  # what a comparison compares ("lighter": weight); None: every shared fact
    feature: str | None = None  # what a product question asks about
    value: str | None = None  # a question for a value ("第一个的充绒量是多少"): its words
    about: bool = False  # "第一个怎么样": described from its facts


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 3)


class ChatPipeline:
    """Answers conversation turns; every dependency is built once in the app factory."""

    def __init__(
        self,
        *,
        settings: Settings,
        catalog: Catalog,
        retriever: Retriever,
        renderer: PromptRenderer,
        flow: Flow,
        chain: ProviderChain,
        metrics: Metrics,
        understanding: QueryUnderstanding,
        redactor: Redactor,
        sessions: SessionStore,
        personalizer: Personalizer | None = None,
    ) -> None:
        self._settings = settings
        self._catalog = catalog
        self._retriever = retriever
        self._renderer = renderer
        self._flow = flow
        self._chain = chain
        self._metrics = metrics
        self._understanding = understanding
        self._redactor = redactor
        self._sessions = sessions
        self._personalizer = personalizer  # issue 12: a turn with a user is re-ranked by their history
        self._asker = Asker(chain, metrics)
        self._sanitizer = ProseSanitizer(lambda kind, n: metrics.output_sanitized(ENDPOINT, kind, n))
        self._attributes = AttributeIndex(catalog.products)
        self._schema = recommend_schema()
        self._currency = catalog.price_currency()
        self.prompt_version = renderer.version(ENDPOINT)
        self.compact_version = renderer.version(COMPACT) if chain.wants_compact else None
        # the grounding facts of a product are built once (products are immutable; ~10 ms each)
        self._facts_cache: LRUCache[str, ProductFacts] = LRUCache(maxsize=4096)
        self._facts_lock = threading.Lock()

    def _facts(self, product: Product) -> ProductFacts:
        with self._facts_lock:
            facts = self._facts_cache.get(product.id)
        if facts is None:
            facts = product_facts(product)
            with self._facts_lock:
                self._facts_cache[product.id] = facts
        return facts

    # -- sessions ---------------------------------------------------------------------------
    def open(self, request: ChatTurnRequest) -> Opened:
        """The conversation the request continues (or a new one).

        :raises NotFound: a ``session_id`` that is unknown, expired or forgotten.
        """
        started = time.monotonic()
        user_key = self._user_key(request.user.id) if request.user and request.user.id else None
        if request.session_id is None:
            session = Session.new(user_key=user_key)
            if user_key is None:
                return Opened(session, new=True, started=started)
            # a known shopper's conversation is stored as it opens, so that forgetting them while this turn runs
            # finds it, and the turn's save (only if still there) cannot bring it back
            try:
                self._sessions.save(session, new=True)
            except SessionStoreDown as exc:
                log.warning("session store unavailable; answering the turn without memory", extra={"error": str(exc)})
                return Opened(session, stateless=True, started=started, session_ms=(time.monotonic() - started) * 1000)
            return Opened(session, started=started, session_ms=(time.monotonic() - started) * 1000)
        try:
            session = self._sessions.load(request.session_id)
        except SessionStoreDown as exc:
            log.warning("session store unavailable; answering the turn without memory", extra={"error": str(exc)})
            now = time.time()
            session = Session(id=request.session_id, created_at=now, updated_at=now, user_key=user_key)
            return Opened(session, stateless=True, started=started, session_ms=(time.monotonic() - started) * 1000)
        if session is None:
            raise NotFound(
                "no such conversation (unknown, expired or forgotten); omit session_id to start a new one",
                field="session_id",
                code="session_not_found",
            )
        return Opened(session, started=started, session_ms=(time.monotonic() - started) * 1000)

    def transcript(self, session_id: str) -> ChatTranscript:
        """:raises NotFound: :raises ServiceUnavailable: the store is down."""
        session = self._load(session_id)
        return ChatTranscript(
            session_id=session.id,
            turn=session.turn,
            created_at=session.created_at,
            updated_at=session.updated_at,
            understood=session.constraints.found(),
            shown=session.shown,
            rejected=session.rejected,
            transcript=session.transcript,
        )

    def forget_user(self, user_id: str) -> int:
        """Delete every conversation of the shopper ``user_id`` (``DELETE /v1/users/{id}``); how many.

        :raises ServiceUnavailable: the store is down (nothing is known to be deleted: retry).
        """
        try:
            return self._sessions.delete_user(self._user_key(user_id))
        except SessionStoreDown as exc:
            raise ServiceUnavailable(f"the session store is unavailable: {exc}; retry the deletion") from exc

    def _user_key(self, user_id: str) -> str:
        # the event store's keyed hash when personalization is on, so a session and the shopper's history agree
        hash_id = self._personalizer.keys.user if self._personalizer is not None else self._redactor.user_id_hash
        return hash_id(user_id)

    def forget(self, session_id: str) -> None:
        """:raises NotFound: :raises ServiceUnavailable: the store is down."""
        try:
            deleted = self._sessions.delete(session_id)
        except SessionStoreDown as exc:
            raise ServiceUnavailable(f"the session store is unavailable: {exc}") from exc
        if not deleted:
            raise NotFound("no such conversation", field="session_id", code="session_not_found")

    def _load(self, session_id: str) -> Session:
        try:
            session = self._sessions.load(session_id)
        except SessionStoreDown as exc:
            raise ServiceUnavailable(f"the session store is unavailable: {exc}") from exc
        if session is None:
            raise NotFound("no such conversation (unknown, expired or forgotten)", field="session_id", code="session_not_found")
        return session

    # -- a turn -------------------------------------------------------------------------------
    def run(
        self,
        request: ChatTurnRequest,
        opened: Opened,
        request_id: str,
        trace: RequestTrace | None = None,
        stream: OutputStream | None = None,
    ) -> ChatResponse:
        """The turn, end to end. :raises ServiceUnavailable: only when degraded answers are disabled."""
        started = opened.started
        deadline = time.monotonic() + self._settings.deadline_s
        session = opened.session
        language = answer_language(request.message, request.language or session.language)
        retrieval_started = time.monotonic()
        reading = read(fold(request.message), len(session.shown))
        plan = self._plan(request, session, reading, language)
        retrieval_ms = (time.monotonic() - retrieval_started) * 1000
        understood = plan.constraints.found()
        if stream is not None:
            stream.understood(understood)

        llm_ms = 0.0
        payload: dict[str, Any]
        if plan.question is not None or plan.note is not None or not plan.candidates:
            reply = plan.question.text if plan.question else plan.note or self._nothing(plan, language)
            payload = self._payload([], reply, None, None, degraded=False)
            if trace is not None:
                trace.answered(None, None, cached=False, degraded=False)
        else:
            answer = self._flow.run(None, lambda: self._answer(request, session, plan, language, deadline, stream), deadline, trace)
            payload, llm_ms = answer.payload, answer.llm_ms

        saved = time.monotonic()
        stateless = opened.stateless
        turn = session.turn + 1
        if not stateless:
            stateless = not self._remember(session, opened.new, request, reading, plan, payload, language)
        session_ms = opened.session_ms + (time.monotonic() - saved) * 1000
        total_ms = (time.monotonic() - started) * 1000
        return ChatResponse.model_validate(
            {
                **payload,
                "request_id": request_id,
                "session_id": session.id,
                "turn": turn,
                "understood": understood,
                "question": plan.question,
                "referred": plan.referred,
                "stateless": stateless,
                "timings_ms": {
                    "session": round(session_ms, 3),
                    "retrieval": round(retrieval_ms, 3),
                    "llm": round(llm_ms, 3),
                    "total": round(total_ms, 3),
                },
            }
        )

    # -- reading the message into a plan ----------------------------------------------------------
    def _plan(self, request: ChatTurnRequest, session: Session, reading: Reading, language: str) -> Plan:
        attributes, spans = self._attributes.named(reading.text)
        text = reading.text
        for start, end in spans:
            text = text[:start] + " " * (end - start) + text[end:]
        understood = self._understanding.parse(text)
        shown = [p for p in (self._catalog.get(pid) for pid in session.shown) if p is not None]

        referred = [session.shown[p] for p in reading.positions if p < len(session.shown)]
        named_shown = [p.id for p in shown if understood.brand and p.brand and fold(p.brand) == fold(understood.brand)]
        if len(named_shown) > 1:  # "that Hushwave Buds": the other words of the message pick among that brand's
            words = {w for w in re.findall(r"[^\W_]{3,}", fold(request.message)) if w != fold(understood.brand or "")}
            narrowed = [pid for pid in named_shown if words & set(re.findall(r"[^\W_]{3,}", fold(self._catalog.by_id[pid].title)))]
            named_shown = narrowed or named_shown
        pointing = reading.reject or reading.compare or reading.feature or reading.points
        if named_shown and (pointing or not understood.cleaned_query.strip(" " + fold(understood.brand or ""))):
            referred += [pid for pid in named_shown if pid not in referred]  # "that Sonara": a pointer, not a brand filter
            understood = understood.model_copy(update={"brand": None})
        if reading.pair and len(referred) < 2:
            pool = session.focus if len(session.focus) == 2 else session.shown[:2]
            referred += [pid for pid in pool if pid not in referred]
        if reading.this and not referred:
            referred = list(session.focus[:1] or session.shown[:1])
        if reading.superlative:
            dimension, op = reading.superlative
            pool = [self._catalog.get(pid) for pid in (referred or session.shown)]
            measured = [(measure(p, dimension), p.id) for p in pool if p is not None and measure(p, dimension) is not None]
            if measured:
                referred = [(min(measured) if op == "lt" else max(measured))[1]]

        if reading.missing and not referred:
            count = len(session.shown)
            zh = is_chinese(language)
            note = (f"上一轮只展示了{count}件商品，没有第{reading.missing[0] + 1}个。" if zh
                    else f"Only {count} product{'s' if count != 1 else ''} were shown, so there is no number {reading.missing[0] + 1}.")
            return Plan("browse", session.constraints, Filters(), [], [], k=request.k, note=note)
        mode: Mode = "browse"
        if reading.compare and (len(referred) >= 2 or (not referred and len(shown) >= 2)):
            mode = "compare"
            referred = referred if len(referred) >= 2 else session.shown[:]
        elif reading.feature and referred:
            mode = "question"
        lifts = set(reading.lifts)
        constraints = session.constraints
        last_asked = bool(session.transcript) and session.transcript[-1].question
        if mode == "browse" and not reading.reject:
            topic = understood.cleaned_query.strip()
            only_constraints = bool(understood.found().keys() & _BLANKING) and fold(topic) == fold(
                " ".join(text.split())
            )  # nothing but constraints was said (understanding then leaves the words as they were): no topic
            topic = topic if topic and not vague(topic) and not reading.points and not only_constraints else None
            topic = self._redactor.redact(topic) if topic else None  # stored: masked like all shopper text
            constraints = advance(constraints, understood, lifts=lifts, attributes=attributes, topic=topic)
            if "exclusions" in lifts:
                session.rejected = []
        elif reading.reject:
            constraints = advance(constraints, understood, lifts=lifts, attributes=attributes, topic=None)
        if reading.no_more:
            constraints = constraints.model_copy(
                update={"exclude_terms": list(dict.fromkeys([*constraints.exclude_terms, *reading.no_more]))}
            )
        rejected = list(session.rejected)
        if reading.reject:
            targets = referred or list(session.focus[:1] or session.shown[:1])
            rejected += [pid for pid in targets if pid not in rejected]
            referred = targets

        if mode in ("compare", "question"):
            products = [p for p in (self._catalog.get(pid) for pid in referred) if p is not None]
            candidates = [Candidate(product=p, score=1.0) for p in products]
            filters = merge_filters(request.filters, constraints.understood(), request.filters.model_fields_set, catalog_currency=self._currency)
            return Plan(
                mode, constraints, filters, referred, candidates, k=len(candidates),
                dimension=reading.compare_dimension, feature=reading.feature, value=reading.value, about=reading.about,
            )

        # relative refinements are relative to what was shown (or to the product pointed at)
        relative = list(reading.relative)
        same_subject = not understood.category or (constraints.category == session.constraints.category)
        if understood.cheap and shown and same_subject and ("price", "lt") not in relative and not understood.price_max:
            relative.append(("price", "lt"))
        note = None
        before = constraints
        if relative and shown:
            base = [p for p in (self._catalog.get(pid) for pid in referred) if p is not None] or shown
            constraints = self._relative(constraints, relative, base)

        if (
            mode == "browse"
            and session.turn == 0
            and not last_asked
            and not reading.just_show
            and not reading.points
            and constraints.empty()
            and not request.filters.model_fields_set
            and vague(fold(request.message))
        ):
            question = clarifying_question(self._catalog, self._understanding, language)
            return Plan("clarify", constraints, Filters(), [], [], k=request.k, question=question)

        filters = merge_filters(
            request.filters, constraints.understood(), request.filters.model_fields_set, catalog_currency=self._currency
        )
        candidates = self._retrieve(constraints, filters, set(rejected), fold(request.message))
        if self._personalizer is not None and request.user is not None:
            # the same step as /v1/recommend: history-weighted order, dismissed (and bought) products left out
            shopper = self._personalizer.shopper(RecommendRequest(query=request.message, user=request.user))
            candidates, _signals = self._personalizer.rerank(shopper, candidates, self._settings.candidates)
        if not candidates and constraints is not before and relative:
            # "cheaper" when nothing is: say so, and keep the constraints as they were (the shopper is not stuck)
            note = self._nothing(Plan("browse", constraints, filters, [], [], k=0), language)
            constraints = before
        session.rejected = rejected  # kept on the session once the turn is saved
        return Plan("browse", constraints, filters, referred if reading.reject else [], candidates, k=request.k, note=note)

    @staticmethod
    def _relative(constraints: Constraints, relative: list[tuple[str, str]], base: list[Any]) -> Constraints:
        c = constraints.model_copy(deep=True)
        for dimension, op in relative:
            values = [v for v in (measure(p, dimension) for p in base) if v is not None]
            if not values:
                continue
            ref = min(values) if op == "lt" else max(values)
            if dimension == "price":
                c.cheap, c.premium = op == "lt", op == "gt"
                if op == "lt":
                    c.price_max = round(ref - 0.01, 2)
                    if c.price_min is not None and c.price_min > c.price_max:
                        c.price_min = None
                else:
                    c.price_min = round(ref + 0.01, 2)
                    if c.price_max is not None and c.price_max < c.price_min:
                        c.price_max = None
                continue
            c.bounds = [b for b in c.bounds if b.dimension != dimension] + [Bound(dimension=dimension, op=op, value=ref)]
        return c

    def _retrieve(self, constraints: Constraints, filters: Filters, rejected: set[str], message: str) -> list[Candidate]:
        n = self._settings.candidates
        wanted = n * (3 if constraints.attributes or constraints.bounds else 1) + len(rejected)
        text = constraints.search_text()
        found = self._retriever.search(text, filters, wanted) if text else []
        if not found:
            # only constraints (a category, a brand, a budget): search with their words, else scan the catalog
            words = " ".join([*category_segments(constraints.category or "")[-2:], constraints.brand or ""]).strip()
            found = self._retriever.search(words, filters, wanted) if words else []
            if not found and not filters.exclude_terms:
                found = [Candidate(product=p, score=0.0) for p in self._catalog.products if passes(p, filters)][:wanted]
        out = []
        for candidate in found:
            product = candidate.product
            if product.id in rejected:
                continue
            if any(not has_attribute(product, group, value) for group, value in constraints.attributes.items()):
                continue
            if any(not _within(measure(product, b.dimension), b) for b in constraints.bounds):
                continue
            out.append(candidate)
        return out[:n]

    def _nothing(self, plan: Plan, language: str) -> str:
        """The reply when nothing in the catalog meets the constraints (e.g. nothing cheaper than what was shown)."""
        zh = is_chinese(language)
        c = plan.constraints
        if c.price_max is not None and c.cheap:
            price = format_price(round(c.price_max + 0.01, 2), self._currency)
            return f"没有比{price}更便宜、又符合其他条件的商品了。" if zh else f"There is nothing cheaper than {price} that meets the other constraints."
        if c.bounds:
            return "目录里没有更符合这个要求的商品了。" if zh else "Nothing in the catalog goes further in that direction while meeting the other constraints."
        return "目录里没有符合所有条件的商品，可以放宽一些条件试试。" if zh else "Nothing in the catalog meets all of these constraints; try lifting one."

    # -- asking the model -----------------------------------------------------------------------
    def _answer(
        self, request: ChatTurnRequest, session: Session, plan: Plan, language: str, deadline: float,
        stream: OutputStream | None,
    ) -> Outcome:
        started = time.monotonic()
        usage = Usage()
        k = min(plan.k, len(plan.candidates))
        if not self._chain.providers:
            return self._degraded(plan, language, started, failed=[], usage=usage)
        chat = self._chat(request, session, plan, language, deadline, k)
        if stream is not None:
            by_id = {c.product.id: c for c in plan.candidates}
            # a comparison's or a question's reply is decided once the answer is whole (grounded or from data)
            stream.bind(
                lambda pid: candidate_item(by_id[pid]).model_dump() if pid in by_id else None,
                k,
                text=plan.mode == "browse",
                clean=lambda value, pid: self._sanitizer.text(
                    value, own_data(by_id[pid].product) if pid in by_id else [t for c in plan.candidates for t in own_data(c.product)]
                ),
                keep=ReasonCheck(plan.candidates, language, _grounding(request, plan), self._sanitizer),
            )
            chat = dataclasses.replace(chat, stream=stream)
        try:
            asked = self._asker.structured(
                chat,
                RecommendOutput,
                usage,
                reask=lambda problem: self._renderer.render_message(
                    ENDPOINT, "reask", problem=problem, k=k, language_name=language_name(language)
                ),
            )
        except AllProvidersFailed as exc:
            if not self._settings.degraded_answers:
                raise ServiceUnavailable(str(exc), deadline_exceeded=exc.deadline_exceeded) from exc
            log.warning("all providers failed; answering the turn from retrieval", extra={"error": str(exc)})
            return self._degraded(plan, language, started, failed=[f"{n}:{e.kind}" for n, e in exc.failures], usage=usage)
        if asked.value is None:
            return self._degraded(plan, language, started, failed=asked.failed, usage=usage)
        if stream is not None:
            stream.settle(asked.completion.text, compact=asked.completion.prompt_style == "compact")
        output = asked.value
        # a small model's reasons must name something of their product or of the shopper's words (prose.grounded)
        small = self._chain.wants_compact_from(asked.completion.provider)
        grounding = _grounding(request, plan) if small else None
        fixed = reconcile(output, plan.candidates, k, plan.filters, language, self._sanitizer, grounding)
        if fixed.replaced_reasons:
            self._metrics.invalid_output.labels("reason_replaced").inc(fixed.replaced_reasons)
        picked = {item.id for item in fixed.items}
        said = self._sanitizer.text(
            output.summary.strip(), [t for c in plan.candidates if c.product.id in picked for t in own_data(c.product)]
        )
        ok = usable(said, language, {c.product.id for c in plan.candidates})
        shown = [c.product for c in plan.candidates if c.product.id in {i.id for i in fixed.items}]
        reply, comparison = self._reply(plan, language, said if ok else None, len(fixed.items), shown)
        payload = self._payload(
            [item.model_dump() for item in fixed.items],
            reply,
            asked.completion.provider,
            asked.completion.model,
            degraded=False,
            fallback_from=asked.failed,
            invalid_ids=fixed.invalid_ids,
            comparison=comparison,
            prompt_version=self.compact_version if asked.completion.prompt_style == "compact" else None,
        )
        return Outcome(payload, (time.monotonic() - started) * 1000, cacheable=False, usage=usage)

    def _reply(
        self, plan: Plan, language: str, said: str | None, count: int, shown: list[Any] | None = None
    ) -> tuple[str, list[dict[str, Any]] | None]:
        """The turn's reply: the model's when usable and grounded in the data of the products it is about (those
        compared or asked about, else those shown), else built from the data."""
        products = [c.product for c in plan.candidates]
        if plan.mode == "compare":
            comparison = compare(products, plan.dimension, language)
            if said and _about(said, products) and grounded(said, products, self._facts):
                return said, comparison.table
            return comparison.reply, comparison.table
        if plan.mode == "question":
            if plan.value is not None:  # each product pointed at ("这两个多少钱")
                answers = [answer_value(p, plan.value, plan.feature or "", language, about=plan.about) for p in products]
                answer = ("" if is_chinese(language) else " ").join(a for a, _ in answers)
                known = any(k for _, k in answers)
            else:
                answer, known = answer_question(products[0], plan.feature or "", language)
            if known and said and _about(said, products) and grounded(said, products, self._facts):
                return said, None
            return answer, None
        if said and grounded(said, shown if shown is not None else products, self._facts):
            return said, None
        if said is not None:
            self._metrics.invalid_output.labels("summary_replaced").inc()
        return fact_summary(count, language), None

    def _degraded(self, plan: Plan, language: str, started: float, *, failed: list[str], usage: Usage) -> Outcome:
        """No model answered: retrieval order and facts-based reasons, every constraint still honoured."""
        self._metrics.degraded.labels(ENDPOINT).inc()
        k = min(plan.k, len(plan.candidates))
        fixed = reconcile(None, plan.candidates, k, plan.filters, language)
        reply, comparison = self._reply(plan, language, None, len(fixed.items))
        payload = self._payload(
            [item.model_dump() for item in fixed.items], reply, None, None, degraded=True, fallback_from=failed,
            comparison=comparison,
        )
        return Outcome(payload, (time.monotonic() - started) * 1000, cacheable=False, usage=usage)

    def _chat(self, request: ChatTurnRequest, session: Session, plan: Plan, language: str, deadline: float, k: int) -> ChatRequest:
        message = self._redactor.redact(request.message)
        constraints = active_filters(plan.filters, plan.constraints.understood()) | _extra(plan.constraints)
        rendered = self._renderer.render(
            ENDPOINT,
            conversation=self._history(session),
            message=message,
            constraints=constraints,
            referred=[p.title for p in (self._catalog.get(pid) for pid in plan.referred) if p is not None],
            candidates=[prompt_facts(c) for c in plan.candidates],
            k=k,
            mode=plan.mode,
            language_name=language_name(language),
        )
        return ChatRequest(
            messages=rendered.messages,
            schema_name=RECOMMEND_SCHEMA_NAME,
            schema=self._schema,
            deadline=deadline,
            temperature=self._settings.temperature,
            max_tokens=self._settings.max_tokens,
            endpoint="recommend",  # the same model as recommendations (SHOPGUIDE_RECOMMEND_MODEL)
            # A small model gets the recommendation's compact form: this message as the request, the constraints
            # the conversation built as its filters (with what the shopper is looking for, in the masked words of
            # earlier turns), the top candidates.
            compact=functools.partial(
                compact_request,
                self._settings,
                self._renderer,
                self._schema,
                query=message,
                candidates=plan.candidates,
                k=k,
                language=language,
                filters=constraints | ({"looking_for": plan.constraints.topic} if plan.constraints.topic else {}),
                history=[],
                endpoint="recommend",
            )
            if self._chain.wants_compact
            else None,
        )

    def _history(self, session: Session) -> list[dict[str, str]]:
        """The last few messages, newest kept first, within ``chat_context_tokens``."""
        budget = self._settings.chat_context_tokens
        out: list[dict[str, str]] = []
        for turn in reversed(session.transcript[-self._settings.chat_history_turns :] if self._settings.chat_history_turns else []):
            cost = _estimate_tokens(turn.text)
            if cost > budget:
                break
            budget -= cost
            out.append({"role": turn.role, "text": turn.text})
        return list(reversed(out))

    # -- the answer and the session ------------------------------------------------------------------
    def _payload(
        self,
        items: list[dict[str, Any]],
        reply: str,
        provider: str | None,
        model: str | None,
        *,
        degraded: bool,
        fallback_from: list[str] | None = None,
        invalid_ids: int = 0,
        comparison: list[dict[str, Any]] | None = None,
        prompt_version: str | None = None,
    ) -> dict[str, Any]:
        return {
            "items": items,
            "reply": reply,
            "provider": provider,
            "model": model,
            "degraded": degraded,
            "cached": False,
            "prompt_version": prompt_version or self.prompt_version,  # the compact form's for a small model
            "fallback_from": fallback_from or [],
            "invalid_ids_dropped": invalid_ids,
            "comparison": comparison,
        }

    def _remember(
        self,
        session: Session,
        new: bool,
        request: ChatTurnRequest,
        reading: Reading,
        plan: Plan,
        payload: dict[str, Any],
        language: str,
    ) -> bool:
        """Save the turn; False when it is not remembered: the store could not be reached, or the conversation or
        its shopper was deleted while the turn ran (the deletion wins)."""
        now = time.time()
        ids = [item["id"] for item in payload["items"]]
        session.turn += 1
        session.updated_at = now
        session.language = request.language or session.language
        session.constraints = plan.constraints
        session.transcript.append(Turn(role="shopper", text=self._redactor.redact(request.message), at=now))
        session.transcript.append(
            Turn(role="assistant", text=payload["reply"], items=ids, question=plan.question is not None, at=now)
        )
        if plan.mode == "browse" and ids:
            session.shown = ids
            session.seen += [pid for pid in ids if pid not in session.seen]
            session.focus = ids[:1] if len(ids) == 1 else []
        elif plan.mode in ("compare", "question"):
            session.focus = plan.referred
        try:
            saved = self._sessions.save(session, new=new)
        except SessionStoreDown as exc:
            log.warning("session store unavailable; this turn is not remembered", extra={"error": str(exc)})
            return False
        if not saved:
            log.info("conversation deleted while its turn ran; the turn is not saved")
        return saved


def _grounding(request: ChatTurnRequest, plan: Plan) -> list[str]:
    """What a small model's reasons may share words with besides their product's data: the shopper's."""
    return [request.message, *plan.constraints.topic]


def _about(text: str, products: list[Any]) -> bool:
    """Whether a reply names one of the products it is about (its brand or title): an answer, not a filler line."""
    folded = fold(text)
    return any((p.brand and fold(p.brand) in folded) or fold(p.title) in folded for p in products)


def _within(value: float | None, bound: Bound) -> bool:
    if value is None:
        return False
    return value < bound.value if bound.op == "lt" else value > bound.value


def _extra(constraints: Constraints) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if constraints.attributes:
        out["attributes"] = constraints.attributes
    if constraints.bounds:
        out["relative"] = [b.model_dump() for b in constraints.bounds]
    return out
