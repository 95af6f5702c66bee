"""The annotation server: FastAPI routes over a :class:`QueryStore`."""

from __future__ import annotations

import io
import logging
import sqlite3
from typing import Annotated, Any

import numpy as np
from fastapi import FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from ..perturb import (
    Bounds,
    ValueRange,
    check_range,
    is_per_feature,
    noise_ladder,
    outside_range,
    to_unit,
)
from ..utils import check_number
from ._auth import SESSION_MAX_AGE, TokenAuth, check_token
from ._guards import (
    MAX_BODY_BYTES,
    MAX_CONCURRENCY,
    BodyLimit,
    ConcurrencyLimit,
    ContentLengthCheck,
    CrossSiteCheck,
    HostCheck,
    SecurityHeaders,
    is_loopback_name,
)
from ._page import PAGE, PAGE_CSP
from ._store import QueryStore
from ._validation import (
    DEFAULT_ANNOTATOR,
    INT64_MAX,
    INT64_MIN,
    MAX_ANNOTATOR_CHARS,
    MAX_DIMS,
    MAX_LEVELS,
    MAX_SETTLE_TIME,
    MAX_VALUES,
    QueryFieldError,
    check_annotator,
    check_shape,
)

logger = logging.getLogger("robustsk.annotate")

_STRICT = ConfigDict(strict=True, allow_inf_nan=False)
QueryId = Annotated[int, Path(ge=INT64_MIN, le=INT64_MAX)]


class NewQuery(BaseModel):
    """Body of ``POST /api/queries`` (strict JSON types; the values are checked by the store)."""

    model_config = _STRICT

    example: StrictInt
    x: list[float] = Field(min_length=1, max_length=MAX_VALUES)
    shape: list[StrictInt] = Field(min_length=1, max_length=MAX_DIMS)
    label: Any = None  # a JSON scalar, checked by check_label
    sigmas: list[float] = Field(min_length=1, max_length=MAX_LEVELS)
    current_sigma: float
    seed: StrictInt = 0


#: Most query ids one ``POST /api/collect`` may name.
MAX_COLLECT = 10000

Annotator = Annotated[StrictStr, Field(max_length=MAX_ANNOTATOR_CHARS)]


class Answer(BaseModel):
    """Body of ``POST /api/queries/{id}/answer``: a level, or another choice, by an annotator."""

    model_config = _STRICT

    sigma: float | None = None
    choice: Annotated[StrictStr, Field(max_length=32)] = "level"
    annotator: Annotator = DEFAULT_ANNOTATOR


class Undo(BaseModel):
    """Body of ``POST /api/undo``."""

    model_config = _STRICT

    annotator: Annotator = DEFAULT_ANNOTATOR


class Collect(BaseModel):
    """Body of ``POST /api/collect``: the queries whose settled answers the learner takes,
    those whose last answer has stood ``settle_time`` seconds by the server's clock."""

    model_config = _STRICT

    ids: list[Annotated[StrictInt, Field(ge=INT64_MIN, le=INT64_MAX)]] = Field(
        min_length=1, max_length=MAX_COLLECT
    )
    settle_time: float = Field(default=0.0, ge=0.0, le=MAX_SETTLE_TIME)


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` only listens on this machine.

    Parameters
    ----------
    host : str
        A host name or IP address. ``""`` (every interface) is not loopback.

    Returns
    -------
    loopback : bool
    """
    return bool(host) and is_loopback_name(host.strip("[]").lower())


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "x", 3)`` -> ``"x[3]"``; ``("path", "qid")`` -> ``"qid"``."""
    parts = list(loc)
    if parts and parts[0] in ("body", "path", "query", "header", "cookie"):
        parts = parts[1:]
    name = ""
    for part in parts:
        if isinstance(part, int):
            name += f"[{part}]"
        elif not name:
            name = str(part)
        else:
            name += f".{part}"
    return name or "body"


def _drop_frames(exc: BaseException) -> None:
    """Let go of the frames of ``exc`` and of the errors that led to it.

    FastAPI's error for a body that is not JSON holds that body (up to
    ``max_body_bytes``) through the frames that raised it, in a reference cycle;
    cut here, the body is freed at once rather than at the next garbage
    collection, so a stream of refused bodies does not pile up in memory.
    """
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        link.__traceback__ = None
        link = link.__cause__ or link.__context__


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    _drop_frames(exc)
    fields: list[dict[str, str]] = []
    for err in errors:
        name = _field(err.get("loc", ()))
        if all(f["field"] != name for f in fields):
            fields.append({"field": name, "msg": str(err.get("msg", "invalid"))})
    detail = "; ".join(f"{f['field']}: {f['msg']}" for f in fields[:5]) or "invalid request"
    return JSONResponse({"detail": detail, "errors": fields[:20]}, status_code=422)


async def _bad_field(request: Request, exc: Exception) -> JSONResponse:
    field, msg = (exc.field, exc.message) if isinstance(exc, QueryFieldError) else ("body", "")
    return JSONResponse(
        {"detail": str(exc), "errors": [{"field": field, "msg": msg}]}, status_code=422
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return JSONResponse(
            {"detail": "the database is busy; try again"},
            status_code=503,
            headers={"Retry-After": "1"},
        )
    return await _server_error(request, exc)


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    logger.error("annotation server error on %s", request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal server error"}, status_code=500)


def create_app(
    store: QueryStore,
    *,
    token: str | None = None,
    host: str = "127.0.0.1",
    max_body_bytes: int = MAX_BODY_BYTES,
    clip: ValueRange = (0.0, 1.0),
    max_concurrency: int = MAX_CONCURRENCY,
    session_max_age: float = SESSION_MAX_AGE,
) -> FastAPI:
    """The FastAPI application serving ``store``.

    Routes: ``GET /`` (the page), ``GET /api/next?annotator=NAME``,
    ``GET /api/progress``, ``GET /api/agreement``, ``POST /api/queries``,
    ``GET /api/queries/{id}``, ``GET /api/queries/{id}/image/{k}.png``,
    ``POST /api/queries/{id}/answer`` (``{"sigma": level}``, or ``{"choice":
    "unrecognisable"}`` or ``{"choice": "skip"}``, each with an optional
    ``"annotator"``), ``POST /api/undo`` (``{"annotator": NAME}``) and
    ``POST /api/collect`` (``{"ids": [...], "settle_time": seconds}``, the
    learner taking settled answers at least ``settle_time`` old by the
    server's clock, one entry per distinct id; see :class:`QueryStore` for the
    team rules).
    Bad requests get a 4xx whose ``detail`` names the field: 400 for a bad
    ``Host`` or ``Content-Length``, 401 for a missing token, 403 for a
    cross-origin POST, 404 for an unknown query or level or nothing to undo,
    409 for an answered query or an undo of an answer the learner has taken,
    413 for a body over ``max_body_bytes``, 415 for a POST that is not JSON,
    422 for a malformed body, a bad id, annotator or choice, or a value out of
    bounds (see :func:`check_query`), 429 (with ``Retry-After``) past
    ``max_concurrency`` requests at once.

    The order of the checks: ``Host``, then the headers alone (``Content-Length``,
    cross-site, the token), so that a request without the token is refused
    before a byte of its body is read; then the concurrency limit, then the
    body is read (up to ``max_body_bytes``) and parsed.

    Parameters
    ----------
    store : QueryStore
        Where queries and answers live.
    token : str or None, default=None
        If set, required on every request, the API docs included: the
        ``X-Token`` header, or the session cookie that ``GET /?token=...``
        sets. Required when ``host`` is not loopback.
    host : str, default="127.0.0.1"
        The address the app is served on. On loopback the ``Host`` header must
        name a loopback address (against DNS rebinding); elsewhere any ``Host``
        is accepted and the token guards the app.
    max_body_bytes : int, default=8 MiB
        Largest request body: an oversized ``Content-Length`` is refused before
        the token is checked, a body streaming past it before it is parsed.
    clip : tuple (low, high), default=(0.0, 1.0)
        Valid range of the examples: numbers (``(0, 255)`` for 8-bit images)
        or per-feature arrays broadcastable to one example's shape. The noisy
        rungs are clipped to it, and it is mapped onto the image's 0-255
        gray levels (``low`` black, ``high`` white). The ladder's levels are
        in the same units (scale them by ``high - low`` for data not in
        [0, 1]). An example posted with values outside it is logged once and
        shown clipped; with per-feature arrays, an example whose shape they
        do not broadcast to is refused (422). Must not be None.
    max_concurrency : int, default=8
        Requests past the token check worked on at once; more wait up to 5 s
        for a slot (64 at most), then get a 429 with ``Retry-After``.
    session_max_age : float, default=12 hours
        Seconds a session cookie is valid (``Max-Age``, and checked by the
        server); the cookie is also void once the app is created again.

    Returns
    -------
    app : fastapi.FastAPI
    """
    token = check_token(token)
    check_number(max_concurrency, "max_concurrency", low=1, integer=True)
    check_number(session_max_age, "session_max_age", low=0.0, include_low=False)
    bounds = check_range(clip, "clip")
    if bounds is None:
        raise ValueError(
            "clip must be a pair (low, high) for the annotation app, got None: images are "
            "rendered by mapping the range onto gray levels 0-255. Pass the data's range, "
            "e.g. clip=(0, 255) for 8-bit images."
        )
    if token is None and not is_loopback(host):
        raise ValueError(f"token is required when host={host!r} is not a loopback address.")
    app = FastAPI(title="robustsk annotate")

    @app.get("/", response_class=HTMLResponse)
    def page() -> HTMLResponse:
        return HTMLResponse(PAGE, headers={"Content-Security-Policy": PAGE_CSP})

    @app.get("/api/progress")
    def progress() -> dict[str, int]:
        return store.progress()

    def shown(q: dict[str, Any], annotator: str) -> dict[str, Any]:
        """A query as the page shows it to ``annotator``."""
        sig = np.asarray(q["sigmas"])
        return {
            "id": q["id"],
            "example": q["example"],
            "sigmas": q["sigmas"],
            "current_index": int(np.argmin(np.abs(sig - q["current_sigma"]))),
            "progress": store.progress(),
            "mine": store.answered_by(annotator),
        }

    @app.get("/api/next", response_model=None)
    def next_query(
        annotator: Annotated[str, Query(max_length=MAX_ANNOTATOR_CHARS)] = DEFAULT_ANNOTATOR,
    ) -> dict[str, Any] | Response:
        annotator = check_annotator(annotator)
        qid = store.next_open(annotator)
        q = None if qid is None else store.get(qid)
        if q is None:
            return Response(status_code=204)
        return shown(q, annotator)

    @app.get("/api/agreement")
    def agreement() -> dict[str, Any]:
        return store.agreement()

    @app.post("/api/queries")
    def add_query(body: NewQuery) -> dict[str, int]:
        shape = check_shape(body.shape, len(body.x))
        misfit = _range_misfit(bounds, shape)
        if misfit:
            raise QueryFieldError("shape", misfit)
        x = np.asarray(body.x, dtype=np.float64).reshape(shape)
        qid = store.add(body.example, x, body.label, body.sigmas, body.current_sigma, body.seed)
        n_out = outside_range(x[None], bounds)
        if n_out:
            logger.warning(
                "query %d (example %d) has %d of %d values outside the valid range %s the "
                "app was given; they are shown clipped. Start the app with the data's range "
                "(clip=(0, 255) for 8-bit images).",
                qid,
                body.example,
                n_out,
                x.size,
                _describe(bounds),
            )
        return {"id": qid}

    @app.get("/api/queries/{qid}")
    def get_query(qid: QueryId) -> dict[str, Any]:
        q = store.get(qid)
        if q is None:
            raise HTTPException(404, f"unknown query {qid}")
        settled = q["settled_at"]
        return {
            "id": q["id"],
            "example": q["example"],
            "answer": q["answer"],
            "responses": q["responses"],
            "unrecognisable": q["unrecognisable"],
            "collected": q["collected"],
            # seconds since it was settled, by the server's clock (the learner waits a
            # moment before taking an answer, so that a misclick can still be undone)
            "age": None if settled is None else max(0.0, store.clock() - settled),
        }

    @app.get("/api/queries/{qid}/image/{k}.png")
    def image(qid: QueryId, k: Annotated[int, Path(ge=0, le=MAX_LEVELS - 1)]) -> Response:
        q = store.get(qid)
        if q is None:
            raise HTTPException(404, f"unknown query {qid}")
        if not k < len(q["sigmas"]):
            raise HTTPException(404, f"query {qid} has levels 0 to {len(q['sigmas']) - 1}")
        misfit = _range_misfit(bounds, np.shape(q["x"]))
        if misfit:  # stored by an app started with another range
            raise HTTPException(422, f"query {qid}: {misfit}")
        # unclipped here: _png clips into the range (and data outside it are logged when
        # posted, not warned about on every image)
        rung = noise_ladder(q["x"], [q["sigmas"][k]], clip=None, random_state=q["seed"])[0]
        return Response(_png(rung, bounds), media_type="image/png")

    @app.post("/api/queries/{qid}/answer")
    def answer(qid: QueryId, body: Answer) -> dict[str, Any]:
        try:  # committed (synchronous=FULL) before we reply
            stored = store.answer(qid, body.sigma, annotator=body.annotator, choice=body.choice)
        except KeyError as exc:
            raise HTTPException(404, str(exc.args[0])) from None
        except RuntimeError as exc:
            raise HTTPException(409, str(exc)) from None
        return {"id": qid, "sigma": stored, "choice": body.choice, "progress": store.progress()}

    @app.post("/api/undo")
    def undo(body: Undo) -> dict[str, Any]:
        try:
            qid = store.undo(body.annotator)
        except RuntimeError as exc:
            raise HTTPException(409, str(exc)) from None
        except LookupError as exc:
            raise HTTPException(404, str(exc.args[0])) from None
        q = store.get(qid)
        return {"id": qid, "query": None if q is None else shown(q, body.annotator)}

    @app.post("/api/collect")
    def collect(body: Collect) -> dict[str, Any]:
        # each distinct id once, in one transaction, the ladder read but never the example
        taken = store._collect(body.ids, body.settle_time)
        none = {"sigma": None, "responses": None, "unrecognisable": None}
        return {"answers": [{"id": qid, **(got or none)} for qid, got in taken.items()]}

    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(QueryFieldError, _bad_field)
    app.add_exception_handler(sqlite3.OperationalError, _database_error)
    app.add_exception_handler(Exception, _server_error)
    # Added innermost first: the last one added sees the request first. Everything
    # outside TokenAuth reads headers only; the body is read inside it.
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(ConcurrencyLimit, max_active=max_concurrency)
    app.add_middleware(TokenAuth, token=token, max_age=session_max_age)
    app.add_middleware(CrossSiteCheck)
    app.add_middleware(ContentLengthCheck, max_bytes=max_body_bytes)
    if is_loopback(host):
        app.add_middleware(HostCheck, bound=host)
    loose = [u for u in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url) if u]
    app.add_middleware(SecurityHeaders, loose_csp_paths=loose)
    return app


def _describe(bounds: Bounds) -> str:
    """The range for a log line: ``(low, high)``, or the shape of per-feature arrays."""
    if is_per_feature(bounds):
        return f"(per-feature arrays of shape {np.shape(bounds[0])})"
    return repr(tuple(float(b) for b in bounds))


def _range_misfit(bounds: Bounds, shape: tuple[int, ...]) -> str:
    """Why per-feature ``bounds`` do not fit an example of ``shape`` ("" when they do)."""
    if not is_per_feature(bounds):
        return ""
    bshape = np.shape(bounds[0])
    try:
        if np.broadcast_shapes(bshape, tuple(shape)) == tuple(shape):
            return ""
    except ValueError:
        pass
    return (
        f"{list(shape)} does not fit the app's per-feature clip arrays of shape {list(bshape)}, "
        "which must broadcast to one example's shape"
    )


def _png(image: Any, bounds: Bounds = (0.0, 1.0)) -> bytes:
    """One rung as a PNG, ``bounds`` mapped onto 0-255 (clipped): gray for ``(d,)``,
    ``(h, w)``, ``(1, h, w)``; RGB for ``(3, h, w)``; any other shape shows its planes
    stacked vertically."""
    from PIL import Image

    unit = to_unit(np.asarray(image, dtype=np.float64)[None], bounds)[0]  # clipped to [0, 1]
    arr = np.nan_to_num(unit, nan=0.0)
    if arr.ndim == 1:
        side = int(round(np.sqrt(arr.size)))
        arr = arr.reshape(side, -1) if side * side == arr.size else arr[None, :]
    elif arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    elif arr.ndim == 3 and arr.shape[0] == 3:
        arr = np.transpose(arr, (1, 2, 0))
    elif arr.ndim >= 3:
        arr = arr.reshape(-1, arr.shape[-1])
    buf = io.BytesIO()
    Image.fromarray(np.rint(arr * 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()
