"""The one handler every generation route calls, built once at start-up.

It owns a request's whole life: admit → plan → pre-call stages → backend → post-call
stages → finish. Routes translate their own wire format to a chat request and the
answer back; everything between is here, once. Finishing (metrics, the log line, the
token charge) happens when the answer has really ended: for a stream that is the
stream generator's ``finally``, after the last byte, not when the route returns.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from gateway.answers import calls_tools, corrected_choice
from gateway.backends.base import Backend, CallContext
from gateway.errors import GatewayError, StageFailed
from gateway.experiments import Assigner
from gateway.limits import check_limits
from gateway.live_stream import aclose, first_awaited, observed, timed
from gateway.model_router import ModelRouter
from gateway.observability import Finished, Observer
from gateway.pipeline.pipeline import Pipeline
from gateway.pipeline.plan import StagePlanner
from gateway.pipeline.stage import Answer, StageInput
from gateway.pipeline.structured import wants_json
from gateway.pipeline.trace import RequestTrace
from gateway.protocol import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    StreamOptions,
)
from gateway.quota import Quota
from gateway.rewrites import stage_input, with_messages
from gateway.streaming import collect, replay
from gateway.tenants.models import Tenant
from gateway.tracing.genai import (
    ResponseFacts,
    record_failure,
    request_attributes,
    span_name,
    watched,
)
from gateway.tracing.seam import NO_SPAN, NO_TRACER, Span, Tracer

# A failed stage is mostly a small-model server that is down or overloaded: worth a
# retry soon, not at once (an immediate retry storm would keep it overloaded).
STAGE_RETRY_AFTER_S = 5


class StreamEncoder(Protocol):
    """How one route writes a stream of chat chunks as its own SSE events."""

    def events(self, chunks: AsyncIterator[ChatCompletionChunk]) -> AsyncIterator[bytes]:
        """The route's events for these chunks, ending the stream as the route does."""
        ...

    def error(self, error: GatewayError) -> bytes:
        """The event telling the client the stream failed after its first byte."""
        ...


@dataclass(frozen=True)
class Generation:
    """One generation request, already translated to chat, and who asks for it."""

    route: str  # the metric and log label: chat, completions, responses
    request: ChatCompletionRequest
    tenant: Tenant
    context: CallContext
    user: str | None = None
    forced_arm: str | None = None
    # The client's W3C trace context (traceparent, tracestate), continued by the request span.
    trace_headers: Mapping[str, str] = field(default_factory=dict)
    # The stages the client chose among its plan (gateway/pipeline/choice.py); None: all.
    stages: tuple[str, ...] | None = None

    def with_stream(self, stream: bool) -> Generation:
        """The same generation, streamed or not."""
        if self.request.stream == stream:
            return self
        return replace(self, request=self.request.model_copy(update={"stream": stream}))


@dataclass
class Completed:
    """A whole answer; its request is already finished."""

    completion: ChatCompletion
    headers: dict[str, str]


@dataclass
class Streaming:
    """SSE events, started only after every stage has run; finishing ends with them."""

    events: AsyncIterator[bytes]
    headers: dict[str, str]


@dataclass
class _Life:
    """What finishing a request needs: its record so far, its tenant and its start."""

    done: Finished
    tenant: Tenant
    started: float = field(default_factory=time.perf_counter)
    span: Span = NO_SPAN
    facts: ResponseFacts = field(default_factory=ResponseFacts)


class GenerationHandler:
    """Runs generation requests through their tenant's pipeline and the model's backend."""

    def __init__(
        self,
        *,
        router: ModelRouter,
        planner: StagePlanner,
        quota: Quota,
        observer: Observer,
        assigner: Assigner,
        max_buffered_bytes: int,
        tracer: Tracer = NO_TRACER,
    ) -> None:
        self._router = router
        self._planner = planner
        self._quota = quota
        self._observer = observer
        self._assigner = assigner
        self._max_buffered_bytes = max_buffered_bytes
        self._tracer = tracer

    async def handle(self, generation: Generation, encoder: StreamEncoder) -> Completed | Streaming:
        """A completion, or a stream whose first chunk has already arrived."""
        life = _Life(done=_record(generation), tenant=generation.tenant)
        trace = life.done.trace
        if self._tracer.enabled:
            life.span = self._request_span(generation)
            context = generation.context.model_copy(update={"span": life.span})
            generation = replace(generation, context=context)
        try:
            answer = await self._serve(generation, life)
        except GatewayError as exc:
            life.done.status, life.done.error_type = exc.status_code, exc.error_type
            record_failure(life.span, exc)
            if isinstance(exc, StageFailed):
                # The refusal says which stage failed and how, as a 200 would.
                exc.headers.setdefault("retry-after", str(STAGE_RETRY_AFTER_S))
                exc.headers["x-aligngate-stages"] = trace.stages_header()
            await self._finish(life)
            raise
        except BaseException as exc:
            record_failure(life.span, exc)
            await self._finish(life)
            raise
        # Absent, not empty, when no stage ran or was recorded: nothing to report.
        headers = {"x-aligngate-stages": trace.stages_header()} if trace.records else {}
        if trace.arm is not None:
            headers["x-aligngate-arm"] = trace.arm
        if isinstance(answer, ChatCompletion):
            await self._finish(life)
            return Completed(completion=answer, headers=headers)
        return Streaming(events=self._streamed(answer, encoder, life), headers=headers)

    async def complete(self, generation: Generation) -> Completed:
        """The whole answer to a request that does not stream."""
        answer = await self.handle(generation.with_stream(False), _NO_STREAM)
        assert isinstance(answer, Completed)  # a request that does not stream gets no stream
        return answer

    def _request_span(self, generation: Generation) -> Span:
        """The request's span, named and described by the GenAI conventions."""
        request = generation.request
        attributes = {
            **request_attributes(generation.route, request.model, request.max_tokens),
            "aligngate.route": generation.route,
            "aligngate.tenant": generation.tenant.name,
            "aligngate.request_id": generation.context.request_id,
            "aligngate.stream": request.stream,
        }
        name = span_name(generation.route, request.model)
        return self._tracer.request_span(name, attributes, generation.trace_headers)

    async def _serve(
        self, generation: Generation, life: _Life
    ) -> ChatCompletion | AsyncIterator[ChatCompletionChunk]:
        """Admit, plan, run the stages around the backend; the answer or its chunks."""
        request, tenant = generation.request, generation.tenant
        done, trace = life.done, life.done.trace
        route = self._router.route(request.model)
        done.model = self._router.model_label(route)
        check_limits(tenant.limits, request)
        await self._quota.admit(tenant)
        assignment = self._assigner.assign(tenant, generation.user, generation.forced_arm)
        if assignment is not None:
            trace.experiment, trace.arm = assignment.experiment, assignment.arm.name
        arm = assignment.arm if assignment is not None else None
        pipeline = self._planner.plan(
            self._router.pipeline(route), tenant, arm, span=life.span, requested=generation.stages
        )
        backend = self._router.backend(route)
        data = await pipeline.run_pre(stage_input(request), trace)
        request = with_messages(request, data)
        if not request.stream:
            return await _complete(backend, pipeline, request, data, generation.context, life)
        # Always asked for: the tenant's tokens are charged from it, asked for or not.
        options = request.stream_options.to_wire() if request.stream_options else {}
        usage = StreamOptions.model_validate({**options, "include_usage": True})
        request = request.model_copy(update={"stream_options": usage})
        chunks = timed(backend.stream(request, generation.context), trace)
        if life.span.recording:
            chunks = watched(chunks, life.facts)
        if pipeline.has_post_stages:
            return await self._buffered(chunks, pipeline, data, trace)
        return await first_awaited(observed(chunks, trace))

    async def _buffered(
        self,
        chunks: AsyncIterator[ChatCompletionChunk],
        pipeline: Pipeline,
        data: StageInput,
        trace: RequestTrace,
    ) -> AsyncIterator[ChatCompletionChunk]:
        # The whole answer is read before the stage runs: no token of the uncorrected
        # answer may reach the client, and errors can still get a proper status code.
        buffered = await collect(chunks, self._max_buffered_bytes)
        indices = sorted(buffered.choices)
        answers = [
            Answer(
                content=buffered.choices[i].content,
                has_tool_calls=buffered.choices[i].has_tool_calls,
            )
            for i in indices
        ]
        final = await pipeline.run_post(data, answers, trace)
        contents = {i: a.content for i, a in zip(indices, final, strict=True)}
        as_json = wants_json(data.response_format)
        refusals = {i for i, a in zip(indices, final, strict=True) if a.refused and as_json}
        trace.answer = final[0].content if final else None
        trace.note_usage(buffered.usage)
        return _replayed(replay(buffered, contents, refusals))

    async def _streamed(
        self, chunks: AsyncIterator[ChatCompletionChunk], encoder: StreamEncoder, life: _Life
    ) -> AsyncIterator[bytes]:
        """The route's events; the request finishes here, however the stream ends."""
        events = encoder.events(chunks)
        try:
            async for event in events:
                yield event
        except GatewayError as exc:
            life.done.error_type = exc.error_type
            record_failure(life.span, exc)
            yield encoder.error(exc)
        finally:
            await aclose(events)
            await aclose(chunks)
            await self._finish(life)

    async def _finish(self, life: _Life) -> None:
        """Metrics, the log line and the token charge, once the answer has ended."""
        life.done.seconds = time.perf_counter() - life.started
        _end_span(life)
        await self._observer.finished(life.done)
        await self._quota.charge(life.tenant, life.done.trace.total_tokens)


class _NoStream:
    """The encoder of a request that does not stream: never used."""

    def events(self, chunks: AsyncIterator[ChatCompletionChunk]) -> AsyncIterator[bytes]:
        """Never called."""
        raise AssertionError("a request that does not stream has no events")

    def error(self, error: GatewayError) -> bytes:
        """Never called."""
        raise AssertionError("a request that does not stream has no events")


_NO_STREAM = _NoStream()


def _record(generation: Generation) -> Finished:
    policy = generation.tenant.policy
    last = generation.request.messages[-1].text() if policy.log_content else None
    return Finished(
        route=generation.route,
        model="unknown",
        tenant=generation.tenant.name,
        trace=RequestTrace(request_id=generation.context.request_id),
        status=200,
        seconds=0.0,
        log_content=policy.log_content,
        prompt=last,
    )


async def _complete(
    backend: Backend,
    pipeline: Pipeline,
    request: ChatCompletionRequest,
    data: StageInput,
    context: CallContext,
    life: _Life,
) -> ChatCompletion:
    trace = life.done.trace
    started = time.perf_counter()
    completion = await backend.complete(request, context)
    life.facts.see_completion(completion)
    trace.backend_s = time.perf_counter() - started
    trace.note_usage(completion.usage)
    if pipeline.has_post_stages:
        answers = [
            Answer(content=c.message.text(), has_tool_calls=calls_tools(c.message))
            for c in completion.choices
        ]
        final = await pipeline.run_post(data, answers, trace)
        as_json = wants_json(data.response_format)
        completion.choices = [
            corrected_choice(choice, answer.content, as_refusal=answer.refused and as_json)
            if answer.content is not None and answer.content != choice.message.text()
            else choice
            for choice, answer in zip(completion.choices, final, strict=True)
        ]
    trace.answer = completion.choices[0].message.text() if completion.choices else None
    return completion


def _end_span(life: _Life) -> None:
    """The request span's outcome: the answer's GenAI facts and what every stage did."""
    span, trace = life.span, life.done.trace
    if not span.recording:
        return
    span.set(life.facts.attributes())
    span.set(
        {
            "aligngate.model": life.done.model,
            "aligngate.stages": trace.stages_header() or None,
            "aligngate.experiment": trace.experiment,
            "aligngate.arm": trace.arm,
            "http.response.status_code": life.done.status,
        }
    )
    span.end()


async def _replayed(chunks: Iterator[ChatCompletionChunk]) -> AsyncIterator[ChatCompletionChunk]:
    """A buffered, already checked answer's chunks, decoded one at a time as they go out."""
    for chunk in chunks:
        yield chunk
