"""The annotation server: FastAPI routes over a :class:`QueryStore`."""

from __future__ import annotations

import io
import ipaddress
import secrets

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from ..perturb import noise_ladder
from ._page import PAGE
from ._store import QueryStore


class NewQuery(BaseModel):
    """Body of ``POST /api/queries``."""

    example: int
    x: list[float] = Field(min_length=1)
    shape: list[int] = Field(min_length=1)
    label: int | str | float | None = None
    sigmas: list[float] = Field(min_length=1)
    current_sigma: float
    seed: int = 0


class Answer(BaseModel):
    """Body of ``POST /api/queries/{id}/answer``."""

    sigma: float


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine.

    Parameters
    ----------
    host : str
        A host name or IP address.

    Returns
    -------
    loopback : bool
    """
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_app(store: QueryStore, *, token: str | None = None) -> FastAPI:
    """The FastAPI application serving ``store``.

    Routes: ``GET /`` (the page), ``GET /api/next``, ``GET /api/progress``,
    ``POST /api/queries``, ``GET /api/queries/{id}``,
    ``GET /api/queries/{id}/image/{k}.png`` and ``POST /api/queries/{id}/answer``.
    Bad requests get a 4xx with a message: 404 for an unknown query or level,
    409 for an answered query, 422 for a level off the ladder or a malformed body,
    401 for a missing token.

    Parameters
    ----------
    store : QueryStore
        Where queries and answers live.
    token : str or None, default=None
        If set, required on every request (``X-Token`` header or ``?token=``).

    Returns
    -------
    app : fastapi.FastAPI
    """
    app = FastAPI(title="robustsk annotate")

    def check_token(request: Request):
        if token is None:
            return
        given = request.headers.get("X-Token") or request.query_params.get("token")
        if not given or not secrets.compare_digest(given, token):
            raise HTTPException(401, "a valid token is required (X-Token header or ?token=)")

    @app.get("/", response_class=HTMLResponse)
    def page(_=Depends(check_token)):
        return PAGE

    @app.get("/api/progress")
    def progress(_=Depends(check_token)):
        return store.progress()

    @app.get("/api/next")
    def next_query(_=Depends(check_token)):
        qid = store.next_open()
        if qid is None:
            return Response(status_code=204)
        q = store.get(qid)
        sig = np.asarray(q["sigmas"])
        return {
            "id": q["id"],
            "example": q["example"],
            "sigmas": q["sigmas"],
            "current_index": int(np.argmin(np.abs(sig - q["current_sigma"]))),
            "progress": store.progress(),
        }

    @app.post("/api/queries")
    def add_query(body: NewQuery, _=Depends(check_token)):
        if int(np.prod(body.shape)) != len(body.x):
            raise HTTPException(
                422,
                f"x has {len(body.x)} values but shape {body.shape} "
                f"needs {int(np.prod(body.shape))}",
            )
        if min(body.sigmas) < 0:
            raise HTTPException(422, "sigmas must be >= 0")
        x = np.asarray(body.x, dtype=np.float32).reshape(body.shape)
        qid = store.add(body.example, x, body.label, body.sigmas, body.current_sigma, body.seed)
        return {"id": qid}

    @app.get("/api/queries/{qid}")
    def get_query(qid: int, _=Depends(check_token)):
        q = store.get(qid)
        if q is None:
            raise HTTPException(404, f"unknown query {qid}")
        return {"id": q["id"], "example": q["example"], "answer": q["answer"]}

    @app.get("/api/queries/{qid}/image/{k}.png")
    def image(qid: int, k: int, _=Depends(check_token)):
        q = store.get(qid)
        if q is None:
            raise HTTPException(404, f"unknown query {qid}")
        if not 0 <= k < len(q["sigmas"]):
            raise HTTPException(404, f"query {qid} has levels 0 to {len(q['sigmas']) - 1}")
        rung = noise_ladder(q["x"], [q["sigmas"][k]], random_state=q["seed"])[0]
        return Response(_png(rung), media_type="image/png")

    @app.post("/api/queries/{qid}/answer")
    def answer(qid: int, body: Answer, _=Depends(check_token)):
        try:
            store.answer(qid, body.sigma)  # committed (synchronous=FULL) before we reply
        except KeyError as exc:
            raise HTTPException(404, str(exc.args[0])) from None
        except RuntimeError as exc:
            raise HTTPException(409, str(exc)) from None
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return {"id": qid, "sigma": body.sigma, "progress": store.progress()}

    return app


def _png(image) -> bytes:
    from PIL import Image

    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim == 1:
        side = int(round(np.sqrt(arr.size)))
        arr = arr.reshape(side, -1) if side * side == arr.size else arr[None, :]
    elif arr.ndim == 3:
        arr = arr[0] if arr.shape[0] == 1 else np.transpose(arr, (1, 2, 0))
    buf = io.BytesIO()
    Image.fromarray((np.clip(arr, 0, 1) * 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()
