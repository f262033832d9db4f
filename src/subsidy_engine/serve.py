"""The portal's HTTP service: ``subsidy-engine serve`` (FastAPI), :func:`create_app`.

Endpoints (OpenAPI documentation at ``/docs``, the schema at ``/openapi.json``):

* ``POST /quote``: a :class:`~subsidy_engine.quote.QuoteRequest` in, a
  :class:`~subsidy_engine.quote.QuoteResponse` out;
* ``POST /explain``: the same request in, ``{"project_id", "explanation"}`` out;
* ``GET /health``: the engine version and the parameter file's hash.

Hostile input gets a 422 with a clear message, never a 500: the body is read
here, at most ``max_body_bytes`` (1 MB by default) and nested at most 32 deep,
parsed as strict JSON (``NaN`` and ``Infinity`` are refused), then validated by
the request model, whose errors name the field. An error of the engine on a
valid request (e.g. a rate the LPR data cannot give) is a 422 too, with its text.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from pydantic import ValidationError

from .policy import Policy, load_policy
from .provenance import engine_version
from .quote import QuoteRequest, QuoteResponse, quote
from .rates import CoverageError, LprCurve

MAX_BODY_BYTES = 1_000_000
MAX_DEPTH = 32


class _BadRequest(ValueError):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0]["msg"] if errors else "bad request")
        self.errors = errors


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows; amounts are decimal strings or integers")


def _depth(value: Any, limit: int) -> None:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise ValueError(f"the JSON is nested more than {limit} levels deep")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


def _parse(body: bytes, max_bytes: int) -> QuoteRequest:
    if len(body) > max_bytes:
        raise _BadRequest([{"loc": ["body"], "msg": f"the request is {len(body):,} bytes, more than the "
                                                   f"{max_bytes:,} allowed", "type": "too_large"}])
    if body.count(b"[") + body.count(b"{") > 200_000:
        raise _BadRequest([{"loc": ["body"], "msg": "the JSON has too many arrays and objects", "type": "too_large"}])
    try:
        data = json.loads(body, parse_constant=_refuse_constant)
        _depth(data, MAX_DEPTH)
    except RecursionError:
        raise _BadRequest([{"loc": ["body"], "msg": f"the JSON is nested more than {MAX_DEPTH} levels deep",
                            "type": "json_invalid"}]) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise _BadRequest([{"loc": ["body"], "msg": f"not valid JSON: {exc}", "type": "json_invalid"}]) from None
    if not isinstance(data, dict):
        raise _BadRequest([{"loc": ["body"], "msg": "the request is a JSON object with a project",
                            "type": "json_invalid"}])
    try:
        return QuoteRequest.model_validate(data)
    except ArithmeticError as exc:  # an amount beyond exact arithmetic, caught before it became a number
        raise _BadRequest([{"loc": ["body"], "msg": f"an amount is out of range: {exc!r}",
                            "type": "value_error"}]) from None
    except ValidationError as exc:
        raise _BadRequest([{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
                           for e in exc.errors(include_url=False, include_input=False)]) from None


def create_app(policy: Policy | None = None, lpr: LprCurve | None = None, *,
               max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """The FastAPI application (the engine's parameters loaded once)."""
    policy = policy if policy is not None else load_policy()
    app = FastAPI(title="subsidy_engine", version=engine_version(),
                  description="Quotes of 京經信發〔2021〕78號 for one project, exactly as the batch engine computes them.")

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

    async def request_of(request: Request) -> QuoteRequest:
        return _parse(await request.body(), max_body_bytes)

    @app.exception_handler(_BadRequest)
    async def bad_request(_: Request, exc: _BadRequest) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": exc.errors})

    async def run(request: QuoteRequest) -> QuoteResponse:
        try:  # in a worker thread: a quote is CPU work, and other clients keep being served
            return await run_in_threadpool(quote, request, policy=policy, lpr=lpr)
        except (CoverageError, ValueError, ArithmeticError) as exc:
            message = " ".join(str(exc).split())
            raise _BadRequest([{"loc": ["body"], "msg": message, "type": "value_error"}]) from None

    @app.post("/quote", response_model=QuoteResponse, summary="Every amount of one project, with its explanation",
              responses={422: {"description": "the request is not valid; detail names each field and why"}})
    async def post_quote(request: Request) -> QuoteResponse:
        return await run(await request_of(request))

    @app.post("/explain", summary="One project's amounts in words",
              responses={422: {"description": "the request is not valid; detail names each field and why"}})
    async def post_explain(request: Request) -> dict[str, str]:
        parsed = await request_of(request)
        return {"project_id": parsed.project.project_id, "explanation": (await run(parsed)).explanation}

    @app.get("/health", summary="The engine version and the parameters in use")
    async def health() -> dict[str, str]:
        return {"engine_version": engine_version(), "policy": policy.name, "policy_sha256": policy.digest}

    return app


__all__ = ["MAX_BODY_BYTES", "create_app"]
