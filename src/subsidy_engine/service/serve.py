"""The portal's HTTP service: ``subsidy-engine serve`` (FastAPI), :func:`create_app`, :func:`serve`.

Endpoints (OpenAPI documentation at ``/docs``, the schema at ``/openapi.json``):

* ``POST /quote``: a :class:`~subsidy_engine.service.quote.QuoteRequest` in, a
  :class:`~subsidy_engine.service.quote.QuoteResponse` out;
* ``POST /explain``: the same request in, ``{"project_id", "explanation"}`` out;
* ``GET /health``: the engine version and the parameter file's hash.

Hostile input gets a 4xx with a clear message, never a 500, and costs a
bounded amount of memory and time. The limits (defaults; each a parameter of
:func:`create_app` or :func:`serve` and an option of ``subsidy-engine serve``):

* **body size**: at most ``max_body_bytes`` (1,000,000 bytes). A
  ``Content-Length`` above it is answered 413 before a byte of the body is
  read; a body without one (chunked) is read piece by piece and answered 413
  as soon as it passes the limit. No more than the limit is ever held, and the
  connection is closed after a 413.
* **body time**: each piece of the body must arrive within ``read_timeout``
  (10 s) of the one before, and the whole body within ``body_timeout`` (30 s);
  otherwise 408 and the connection is closed (a stalled or trickled upload is
  not held).
* **request head time**: the request line and headers must arrive within
  ``read_timeout`` of the connection's opening or of the previous response on
  it, otherwise the connection is closed; the head is at most 16 KB
  (``h11_max_incomplete_event_size``, a 400 above). An idle kept-alive
  connection is closed after 5 s (``timeout_keep_alive``).
* **connections**: at most ``limit_concurrency`` (64) open at once; a request
  beyond them is answered 503 at once.
* **JSON**: strict (``NaN`` and ``Infinity`` refused), nested at most 32 deep,
  at most 200,000 arrays and objects; then the request model's checks, whose
  errors name the field (422).
* **work**: the request's size is checked before any item is read: at most
  100 loans, 100 insurance policies, 100 events, and 36,000 schedule periods
  over all the loans (:data:`~subsidy_engine.service.quote.MAX_PERIODS`), a 422
  otherwise; custom plans are read in linear integer arithmetic. A request at
  the bounds is about a second of CPU. A heavy request is parsed and computed in
  a worker thread, so that the event loop keeps answering other clients
  meanwhile; a light one (a body of at most :data:`LIGHT_BODY_BYTES`, parsed,
  then :func:`~subsidy_engine.service.quote.light`: a few loans and items the
  one-project fast path takes, a few milliseconds of work) is answered on the
  event loop, where the hand-over to a thread and back cost a lone client a
  sixth of its latency and more of its p99.
* **ids** are normalised (Unicode NFC, spaces around trimmed) before the
  duplicate check, and a control or format character in one is a 422 naming
  the field (:func:`subsidy_engine.core.ids.normalise_id`).
* **messages** are one line each and name the field, never a class of the
  engine. An error of the engine on a valid request (e.g. a stage without a
  rate) is a 422 too, with its text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, TypeVar

from subsidy_engine.core.money import whole_number
from subsidy_engine.core.provenance import engine_version
from subsidy_engine.errors import CoverageError, RequestRefused, SubsidyEngineError, needs_extra
from subsidy_engine.params.lpr import LprCurve
from subsidy_engine.params.policy import Policy, load_policy
from subsidy_engine.service.quote import (
    MAX_BODY_BYTES,
    QuoteRequest,
    QuoteResponse,
    light,
    parse_request,
    quote,
    quote_by_tables,
    refused,
    too_large,
)

T = TypeVar("T")

_SERVICE = "the HTTP service (subsidy-engine serve) needs fastapi and uvicorn"
with needs_extra("serve", _SERVICE):  # the serve extra's packages (a MissingExtraError naming it if not installed)
    import anyio
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, Response
    from fastapi_offline import FastAPIOffline
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import ClientDisconnect

if TYPE_CHECKING:
    import uvicorn

#: Seconds between two pieces of a request (its head, or its body), and for a whole request head.
READ_TIMEOUT = 10.0
#: Seconds for a whole request body.
BODY_TIMEOUT = 30.0
#: Connections open at once (a request beyond them is answered 503).
LIMIT_CONCURRENCY = 64
#: Seconds an idle kept-alive connection is kept.
KEEP_ALIVE = 5
#: Bytes of a request line and headers.
MAX_HEAD_BYTES = 16 * 1024
#: A request body of at most this many bytes is parsed on the event loop (JSON of this size and its models: a
#: millisecond or two); a larger one in a worker thread. Parsed, a light request
#: (:func:`~subsidy_engine.service.quote.light`) is quoted on the event loop, a heavier one in a worker thread.
LIGHT_BODY_BYTES = 16 * 1024


async def _read_body(request: Request, max_bytes: int, read_timeout: float, body_timeout: float) -> bytes:
    """The request's body, read piece by piece: a 413 as soon as it is (or says it will be) over ``max_bytes``,
    a 408 when a piece takes more than ``read_timeout`` or the whole more than ``body_timeout``."""
    declared = request.headers.get("content-length")
    if declared is not None and (size_said := whole_number(declared)) is not None and size_said > max_bytes:
        raise too_large(max_bytes, size_said)
    chunks: list[bytes] = []
    size = 0
    pieces = request.stream().__aiter__()
    deadline = anyio.current_time() + body_timeout
    while True:
        wait = min(read_timeout, deadline - anyio.current_time())
        with anyio.move_on_after(max(wait, 0)) as waited:
            try:
                chunk = await pieces.__anext__()
            except StopAsyncIteration:
                break
            except ClientDisconnect:  # the client left mid-body: nothing to answer, and nothing to log as an error
                raise refused(400, "disconnected", "the client closed the connection before the body's end") \
                    from None
        if waited.cancelled_caught:
            raise refused(408, "timeout", f"the request's body did not arrive in time (a pause of more than "
                                           f"{read_timeout:g} s, or more than {body_timeout:g} s in all)")
        size += len(chunk)
        if size > max_bytes:
            raise too_large(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(policy: Policy | None = None, lpr: LprCurve | None = None, *,
               max_body_bytes: int = MAX_BODY_BYTES, read_timeout: float = READ_TIMEOUT,
               body_timeout: float = BODY_TIMEOUT) -> FastAPI:
    """The FastAPI application (the engine's parameters loaded once).

    Parameters
    ----------
    policy, lpr : optional
        The parameters and the LPR curve (the bundled ones by default).
    max_body_bytes : int
        The largest request body read (413 above it).
    read_timeout, body_timeout : float
        Seconds the body may pause between two pieces, and take in all (408 after either).
    """
    policy = policy if policy is not None else load_policy()
    # FastAPIOffline: FastAPI whose /docs page loads Swagger UI from the package, not from a CDN (an offline
    # government intranet shows it)
    app = FastAPIOffline(title="subsidy_engine", version=engine_version(),
                         description="Quotes of 京經信發〔2021〕78號 for one project, exactly as the batch engine "
                                     "computes them.")

    def openapi() -> dict[str, Any]:
        """FastAPI's schema, with the request body (read by hand, below) described by QuoteRequest."""
        from fastapi.openapi.utils import get_openapi

        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            request_schema = QuoteRequest.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(request_schema.pop("$defs", {}))
            components["QuoteRequest"] = request_schema
            for path in ("/quote", "/explain"):
                schema["paths"][path]["post"]["requestBody"] = {"required": True, "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/QuoteRequest"}}}}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(RequestRefused)
    async def bad_request(_: Request, exc: RequestRefused) -> JSONResponse:
        return JSONResponse(status_code=exc.status, content={"detail": exc.errors},
                            headers={"connection": "close"} if exc.close else None)

    def respond(parsed: QuoteRequest, send: Callable[[QuoteResponse], T]) -> T:
        """The request quoted, and what is sent of it (its words and schedules, which a response makes when they
        are read)."""
        try:
            return send(quote(parsed, policy=policy, lpr=lpr))
        except (CoverageError, ValueError, ArithmeticError) as exc:
            message = " ".join(str(exc).split())
            raise refused(422, "value_error", message) from None

    def answer(body: bytes, send: Callable[[QuoteResponse], T]) -> T:
        """A heavy body read and quoted in one hop to a worker thread (a megabyte of JSON and its models, then the
        quote), while other clients keep being served."""
        return respond(parse_request(body, max_body_bytes), send)  # refused as it says (RequestRefused)

    async def answered(request: Request, send: Callable[[QuoteResponse], T]) -> T:
        body = await _read_body(request, max_body_bytes, read_timeout, body_timeout)
        if len(body) > LIGHT_BODY_BYTES:
            return await run_in_threadpool(answer, body, send)
        parsed = parse_request(body, max_body_bytes)
        if not light(parsed, policy):
            return await run_in_threadpool(respond, parsed, send)
        return respond(parsed, send)  # a few milliseconds: less than a thread's hand-over costs a lone client

    refusals = {422: {"description": "the request is not valid; detail names each field and why"},
                413: {"description": "the body is larger than the service reads"},
                408: {"description": "the body did not arrive in time"}}

    @app.post("/quote", response_model=QuoteResponse, summary="Every amount of one project, with its explanation",
              responses=refusals)  # type: ignore[arg-type]
    async def post_quote(request: Request) -> Response:
        # the response is the engine's own model, made from exact integers: sent as pydantic writes it, not
        # validated again by FastAPI against the same model (a 30-year schedule's 2,160 amounts a second time)
        return Response(await answered(request, QuoteResponse.model_dump_json), media_type="application/json")

    @app.post("/explain", summary="One project's amounts in words", responses=refusals)  # type: ignore[arg-type]
    async def post_explain(request: Request) -> dict[str, str]:
        return await answered(request, lambda response: {"project_id": response.project_id,
                                                         "explanation": response.explanation})

    @app.get("/health", summary="The engine version and the parameters in use")
    async def health() -> dict[str, str]:
        return {"engine_version": engine_version(), "policy": policy.name, "policy_sha256": policy.digest}

    return app


def _protocol(head_timeout: float) -> type:
    """uvicorn's h11 protocol with a deadline on each request head.

    uvicorn closes an idle kept-alive connection after ``timeout_keep_alive``, but each byte received restarts
    that wait, and a new connection has none: a client sending its headers a byte at a time would hold a
    connection (and a place under ``limit_concurrency``) for ever. Here the request line and headers must all
    arrive within ``head_timeout`` of the connection's opening or of the previous response; the body is the
    application's to time (:func:`create_app`).
    """
    import asyncio

    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeadDeadline(H11Protocol):
        _head_deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._await_head()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._await_head()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._head_deadline is not None:
                self._head_deadline.cancel()
            super().connection_lost(exc)

        def _await_head(self) -> None:
            if self._head_deadline is not None:
                self._head_deadline.cancel()
            if self.cycle is None or self.cycle.response_complete:  # waiting for a head (not a pipelined one)
                self._head_deadline = self.loop.call_later(head_timeout, self._head_late, self.cycle)

        def _head_late(self, cycle: object) -> None:
            if self.cycle is cycle and not self.transport.is_closing():  # no request has begun since
                self.transport.close()

    return HeadDeadline


def server_config(app: Any, host: str = "127.0.0.1", port: int = 8000, *,
                  limit_concurrency: int = LIMIT_CONCURRENCY, read_timeout: float = READ_TIMEOUT,
                  keep_alive: int = KEEP_ALIVE, **options: Any) -> uvicorn.Config:
    """uvicorn's settings for ``app``: the limits of the module's docstring (``options`` go to uvicorn as is;
    an ``http`` among them, a worker's protocol named by import path, stands for the one built here)."""
    import uvicorn

    http = options.pop("http", None) or _protocol(read_timeout)
    return uvicorn.Config(app, host=host, port=port, http=http,
                          limit_concurrency=limit_concurrency, timeout_keep_alive=keep_alive,
                          h11_max_incomplete_event_size=MAX_HEAD_BYTES, **options)


#: A request of four loans, one for each loop of the amortization kernel (a loan drawn at once; tranches and a
#: prepayment; interest settled on the 20th of each quarter with due dates moved to business days) and one on the
#: LPR (its rate segments' kernel), its dates inside China's published calendar.
WARM_UP_REQUEST: dict[str, Any] = {
    "project": {"project_id": "warm-up", "enterprise_id": "E", "domain": "economic", "stage": "pilot",
                "total_investment": "500000000", "eligible_investment": "400000000", "start_date": "2025-03-01"},
    "loans": [
        {"loan_id": "lean", "principal": "1000000", "annual_rate": "0.049", "term_months": 36,
         "start_date": "2025-03-15"},
        {"loan_id": "tranches", "annual_rate": "0.036", "term_months": 12, "method": "equal_principal",
         "interest_basis": "act_360", "settlement_day": 20,
         "drawdowns": [{"date": "2025-03-05", "amount": "3000000"}, {"date": "2025-06-18", "amount": "2000000"}],
         "prepayments": [{"date": "2025-09-01", "amount": "1000000", "recompute": "term"}]},
        {"loan_id": "calendar", "principal": "5000000", "annual_rate": "0.03", "term_months": 12,
         "frequency": "quarterly", "method": "equal_principal", "start_date": "2025-11-20", "settlement_day": 20,
         "interest_dates": "calendar", "interest_frequency": "quarterly", "business_day": "following"},
        {"loan_id": "floating", "principal": "2000000", "floating": {"tenor": "5Y", "spread_bp": "-30"},
         "term_months": 24, "start_date": "2025-04-15"}]}


def warm_up() -> tuple[float, list[str]]:
    """Quote :data:`WARM_UP_REQUEST`, then its first loan alone, then that again as the batch path answers a
    request the fast path does not take: the kernels a quote runs are loaded from numba's disk cache (compiled on
    an install's first run) before the service accepts a request, so that the first ``/quote`` is as fast as the
    next (and a light one, answered on the event loop, does not hold it while a kernel loads). A request of loans
    drawn at once runs a kernel of its own (the lean loop's), hence the second quote. Returns the seconds it took
    and what kept it from pricing a loan (parameters not in force on the sample's dates, a calendar that no longer
    covers them): the service starts all the same, and its first quote of that kind loads its kernel then."""
    import json
    import time

    started = time.perf_counter()
    problems: list[str] = []
    for loans, priced in ((WARM_UP_REQUEST["loans"], quote), (WARM_UP_REQUEST["loans"][:1], quote),
                          (WARM_UP_REQUEST["loans"][:1], quote_by_tables)):
        try:
            response = priced(parse_request(json.dumps({**WARM_UP_REQUEST, "loans": loans}).encode()))
        except (SubsidyEngineError, ValueError, ArithmeticError) as exc:
            problems.append(" ".join(str(exc).split()))
            continue
        problems += [f"{r.id}: {r.field}: {r.reason}" for r in response.rejections]
    return time.perf_counter() - started, problems


def serve(host: str = "127.0.0.1", port: int = 8000, *, max_body_bytes: int = MAX_BODY_BYTES,
          read_timeout: float = READ_TIMEOUT, body_timeout: float = BODY_TIMEOUT,
          limit_concurrency: int = LIMIT_CONCURRENCY, workers: int = 1) -> None:
    """Run the service until interrupted (``subsidy-engine serve``), with the limits of the module's docstring.

    ``workers``: processes answering requests on the one socket (uvicorn's supervisor): one process answers
    one quote at a time, so a portal calling from several clients at once needs about one per core. Each
    worker warms its kernels before it accepts, and has its own ``limit_concurrency``.
    """
    with needs_extra("serve", _SERVICE):
        import uvicorn

    if workers < 1:
        raise ValueError(f"workers {workers}: at least one process answers requests")
    limits = {"max_body_bytes": max_body_bytes, "read_timeout": read_timeout, "body_timeout": body_timeout}
    if workers == 1:
        app = _warmed_app(limits)
        uvicorn.Server(server_config(app, host, port, limit_concurrency=limit_concurrency,
                                     read_timeout=read_timeout)).run()
        return
    import json
    import os

    from uvicorn.supervisors import Multiprocess

    # each worker is a fresh process: it reads the limits from the environment, builds and warms its own app
    os.environ[_WORKER_LIMITS] = json.dumps(limits)
    config = server_config(f"{__name__}:worker_app", host, port, limit_concurrency=limit_concurrency,
                           read_timeout=read_timeout, http=f"{__name__}:HeadDeadlineProtocol", factory=True,
                           workers=workers)
    Multiprocess(config, sockets=[config.bind_socket()]).run()


#: The environment variable through which :func:`serve` hands its limits to each worker process.
_WORKER_LIMITS = "SUBSIDY_ENGINE_SERVE_LIMITS"


def _warmed_app(limits: dict[str, Any]) -> FastAPI:
    """The app, built with ``limits``, after the warm-up quotes (what it says goes to standard error)."""
    import os
    import sys

    app = create_app(max_body_bytes=int(limits["max_body_bytes"]), read_timeout=float(limits["read_timeout"]),
                     body_timeout=float(limits["body_timeout"]))
    who = f"subsidy-engine serve [{os.getpid()}]"
    print(f"{who}: loading the kernels (an install's first run compiles them, about a minute)...",
          file=sys.stderr, flush=True)
    seconds, problems = warm_up()
    for problem in problems:
        print(f"{who}: warning: the warm-up quote was refused ({problem}); the first quote of its kind will load "
              "its kernels", file=sys.stderr, flush=True)
    print(f"{who}: kernels ready in {seconds:.1f} s", file=sys.stderr, flush=True)
    return app


def _limits_given() -> dict[str, Any]:
    import json
    import os

    given = json.loads(os.environ.get(_WORKER_LIMITS, "{}"))
    return {"max_body_bytes": given.get("max_body_bytes", MAX_BODY_BYTES),
            "read_timeout": given.get("read_timeout", READ_TIMEOUT),
            "body_timeout": given.get("body_timeout", BODY_TIMEOUT)}


def worker_app() -> FastAPI:
    """A worker's app (:func:`serve` with ``workers`` > 1): built with the limits :func:`serve` was given, and
    warmed up before the worker accepts a request."""
    return _warmed_app(_limits_given())


def __getattr__(attribute: str) -> Any:  # noqa: ANN401
    """``HeadDeadlineProtocol``: a worker's h11 protocol, with the head timeout :func:`serve` was given (built in
    the worker: uvicorn imports it by name there, since a class made at run time cannot travel to a process)."""
    if attribute == "HeadDeadlineProtocol":
        return _protocol(float(_limits_given()["read_timeout"]))
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")


__all__ = ["BODY_TIMEOUT", "LIGHT_BODY_BYTES", "LIMIT_CONCURRENCY", "MAX_BODY_BYTES", "READ_TIMEOUT", "WARM_UP_REQUEST",
           "create_app", "serve", "server_config", "warm_up", "worker_app"]
