"""The study's web server: a small Starlette app, served by uvicorn, and the page in static/.

What the server decides, and the browser only carries out: which image comes next, for how long it is
shown, and whether an answer is acceptable. An answer is taken only for the judge's current trial, for
the image planned there, with the exposure the server asked for; anything else gets a 4xx and changes
nothing. The browser measures what the server cannot: the image's actual time on screen (from
requestAnimationFrame timestamps) and the reaction time.

Nothing is served from a path built from the request: the page's three files are fixed routes, and an
image is looked up by its id in the study's manifest (ids are 16 hex digits), so there is no path
traversal and no directory listing.
"""

from __future__ import annotations

import importlib.util
import random
import re
import socket
import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gankit.errors import UserError
from gankit.human_eval.protocol import COUNTDOWN_FROM, COUNTDOWN_MS, MASK_MS, MASKS, exposure_for, make_plan
from gankit.human_eval.store import AlreadyAnswered, Answer, Store
from gankit.human_eval.study import Study, StudyRequest, open_study

if TYPE_CHECKING:
    from starlette.applications import Starlette

MAX_BODY = 4096
_JUDGE = re.compile(r"^[0-9a-f]{10}$")
_IMAGE = re.compile(r"^([0-9a-f]{16})\.png$")
_STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
           "/app.js": ("app.js", "text/javascript; charset=utf-8"),
           "/style.css": ("style.css", "text/css; charset=utf-8")}
_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


class AnswerIn(BaseModel):
    """One answer as the page sends it; unknown keys, wrong types, NaN and infinities are refused."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    position: int = Field(ge=0)
    image: str = Field(pattern=r"^[0-9a-f]{16}$")
    answer: Literal["real", "fake"]
    requested_ms: float | None
    measured_ms: float | None = Field(ge=0, le=86_400_000)  # without a time limit, as long as reaction_ms
    reaction_ms: float = Field(ge=0, le=86_400_000)


def create_app(study: Study, store: Store) -> "Starlette":
    """The ASGI app for one study (Starlette imported here: it is the optional `web` extra)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Route

    static = resources.files("gankit.human_eval") / "static"
    main_trials = study.trials + study.attention  # what the judge is told: scored images and attention checks

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status, headers=_HEADERS)

    async def page(request: Request) -> Response:
        name, media = _STATIC[request.url.path]
        return Response((static / name).read_bytes(), media_type=media, headers=_HEADERS)

    async def study_info(request: Request) -> Response:
        return JSONResponse({
            "protocol": study.protocol.name, "timed": study.protocol.timed, "feedback": study.protocol.feedback,
            "trials": main_trials, "practice": study.practice, "countdown_from": COUNTDOWN_FROM,
            "countdown_ms": COUNTDOWN_MS, "masks": MASKS, "mask_ms": MASK_MS,
            "channels": study.shape[0], "size": study.shape[-1],
        }, headers=_HEADERS)

    async def new_judge(request: Request) -> Response:
        rng = random.Random()
        plan = make_plan(study.pool("real"), [study.pool("fake", t) for t in range(len(study.fakes))],
                         study.pool("attention"), study.pool("practice"), study.trials, rng)
        judge = store.create_judge(plan, request.headers.get("user-agent"))
        return JSONResponse({"judge": judge}, 201, headers=_HEADERS)

    def judge_of(request: Request) -> str | None:
        judge = request.path_params["judge"]
        return judge if _JUDGE.match(judge) and store.has_judge(judge) else None

    def progress(answers: list[Answer]) -> dict:
        done = sum(a.kind != "practice" for a in answers)
        return {"done": done, "total": main_trials, "practice_done": len(answers) - done, "practice_total": study.practice}

    async def judge_status(request: Request) -> Response:
        judge = judge_of(request)
        if judge is None:
            return error(404, "no such judge in this study")
        answers = store.answers(judge)
        return JSONResponse({"judge": judge, **progress(answers), "finished": len(answers) == len(store.plan(judge))},
                            headers=_HEADERS)

    async def next_trial(request: Request) -> Response:
        judge = judge_of(request)
        if judge is None:
            return error(404, "no such judge in this study")
        plan, answers = store.plan(judge), store.answers(judge)
        if len(answers) == len(plan):
            return JSONResponse({"finished": True, **progress(answers)}, headers=_HEADERS)
        trial = plan[len(answers)]
        return JSONResponse({
            "finished": False, "position": trial.position, "image": trial.image,
            "url": f"/images/{trial.image}.png", "practice": trial.kind == "practice",
            "exposure_ms": exposure_for(study.protocol, trial, _history(answers)), **progress(answers),
        }, headers=_HEADERS)

    async def answer(request: Request) -> Response:
        judge = judge_of(request)
        if judge is None:
            return error(404, "no such judge in this study")
        declared = request.headers.get("content-length", "0")
        if not declared.isdigit() or int(declared) > MAX_BODY:
            return error(413, "answer too large")
        body = await request.body()
        if len(body) > MAX_BODY:
            return error(413, "answer too large")
        try:
            given = AnswerIn.model_validate_json(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            return error(422, f"malformed answer: {'.'.join(map(str, first['loc'])) or 'body'}: {first['msg']}")
        # From here to the write there is no await: one answer at a time per event loop, so two tabs
        # of one judge cannot both answer the same trial.
        plan, answers = store.plan(judge), store.answers(judge)
        if given.position < len(answers):
            return error(409, "already answered")
        if given.position >= len(plan) or given.position != len(answers):
            return error(409, "not this judge's current trial")
        trial = plan[given.position]
        if given.image != trial.image:
            return error(400, "that image is not this judge's current trial")
        expected = exposure_for(study.protocol, trial, _history(answers))
        if given.requested_ms != expected:
            return error(400, f"requested_ms must be {expected} for this trial")
        if study.protocol.timed and given.measured_ms is None:
            return error(400, "measured_ms is required when the exposure is limited")
        info = study.images[trial.image]
        record = Answer(judge, trial.position, trial.image, info.source, trial.kind, trial.track, info.truth,
                        given.answer, given.requested_ms, given.measured_ms, given.reaction_ms, time.time())
        try:
            store.record(record)
        except AlreadyAnswered:
            return error(409, "already answered")
        reply = {"saved": True, **progress(answers + [record])}
        if trial.kind == "practice" or study.protocol.feedback:
            reply["truth"] = info.truth  # given only once the answer is stored, so it cannot change it
        return JSONResponse(reply, headers=_HEADERS)

    async def image(request: Request) -> Response:
        match = _IMAGE.match(request.path_params["name"])
        path = study.image_file(match[1]) if match else None
        if path is None or not path.is_file():
            return error(404, "no such image")
        return FileResponse(path, media_type="image/png", headers={**_HEADERS, "Cache-Control": "private, max-age=3600"})

    routes = [Route(p, page) for p in _STATIC] + [
        Route("/api/study", study_info),
        Route("/api/judges", new_judge, methods=["POST"]),
        Route("/api/judges/{judge}", judge_status),
        Route("/api/judges/{judge}/next", next_trial),
        Route("/api/judges/{judge}/answers", answer, methods=["POST"]),
        Route("/images/{name}", image),
    ]
    return Starlette(routes=routes)


def _history(answers: list[Answer]) -> list[tuple[int, bool]]:
    """(track, correct) of the scored trials answered so far: what the staircase moves on."""
    return [(a.track, a.correct) for a in answers if a.kind == "trial"]


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound now so that a port in use is one clear error before anything starts."""
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise UserError(f"--host {host}: cannot resolve it ({exc.strerror})") from None
    sock = socket.socket(info[0], socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a killed server's old connections do not block a restart
    try:
        sock.bind(info[4])
    except OSError as exc:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port} ({exc.strerror}); is another server using it? pass --port") from None
    sock.listen(128)
    return sock


def serve_study(path: Path, request: StudyRequest, host: str, port: int) -> None:
    """Make or resume the study in `path` and serve it until interrupted. The port is taken first,
    so a port in use fails at once, before a study is built."""
    if importlib.util.find_spec("starlette") is None or importlib.util.find_spec("uvicorn") is None:
        raise UserError("gankit human-eval serve needs the web extra: pip install 'gankit[web]'")
    import uvicorn
    sock = bind(host, port)
    try:
        study = open_study(path, request)
        store = Store(study.database, study.id)
    except BaseException:
        sock.close()
        raise
    try:
        counts = store.counts()
        port = sock.getsockname()[1]
        print(f"gankit human-eval: {study.protocol.name} study {study.path} "
              f"({counts['judges']} judges, {counts['answers']} answers so far)")
        if host in ("0.0.0.0", "::"):
            print(f"listening on every network interface: judges open http://<this machine's address>:{port}/")
        shown = f"[{host}]" if ":" in host else host
        print(f"open http://{shown}:{port}/  (Ctrl-C stops; every answer is saved as it comes)", flush=True)
        config = uvicorn.Config(create_app(study, store), log_level="warning", access_log=False, lifespan="off")
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        store.close()
        sock.close()
