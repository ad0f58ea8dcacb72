"""Human evaluation without a browser: the study folder, the HTTP API (Starlette's TestClient), its
refusals of bad requests, the CLI's one-line errors, and the report on simulated judges."""

from __future__ import annotations

import json
import random
import re
import socket
from pathlib import Path

import pytest

from gankit.errors import UserError
from gankit.human_eval.report import write_report
from gankit.human_eval.server import create_app
from gankit.human_eval.store import Store
from gankit.human_eval.study import StudyRequest, load_study, open_study
from tests.human_eval_data import answer_trials, make_client, play_judge, write_folder


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    return write_folder(tmp_path / "real", 16, "real"), write_folder(tmp_path / "fake", 16, "fake", seed=1)


@pytest.fixture
def study(tmp_path: Path, folders):
    real, fake = folders
    return open_study(tmp_path / "study", StudyRequest(real=str(real), fakes=[str(fake)], protocol="hype-time",
                                                       trials=8, practice=2, attention=2))


@pytest.fixture
def served(study):
    store = Store(study.database, study.id)
    yield study, store, make_client(create_app(study, store))
    store.close()


def truthful(study):
    return lambda image: study.images[image].truth


def test_study_folder_holds_opaque_images_and_a_manifest(study):
    files = sorted(p.name for p in (study.path / "images").iterdir())
    assert len(files) == 4 + 4 + 2 + 2  # real, fake, practice (1 real + 1 broken), attention
    assert all(len(name) == len("0123456789abcdef.png") for name in files)
    roles = [info.role for info in study.images.values()]
    assert roles.count("real") == roles.count("fake") == 4  # by default as many as one judge sees
    assert study.shape == (1, 16, 16)
    manifest = json.loads((study.path / "study.json").read_text())
    assert manifest["protocol"] == {"name": "hype-time", "exposure_ms": None}


def test_a_judge_plays_through_the_staircase(served):
    study, store, client = served
    info = client.get("/api/study").json()
    assert info["trials"] == 10 and info["practice"] == 2 and info["timed"]
    judge = play_judge(client, study, truthful(study))
    plan, answers = store.plan(judge), store.answers(judge)
    assert len(answers) == len(plan) == 12
    assert [a.kind for a in answers[:2]] == ["practice", "practice"]
    assert len({a.image for a in answers}) == 12  # no image twice
    scored = [a for a in answers if a.kind == "trial"]
    assert sum(a.truth == "real" for a in scored) == sum(a.truth == "fake" for a in scored) == 4
    # Always right: from 500 ms, three right answers in a row take 30 ms off (attention checks count not).
    assert [a.requested_ms for a in scored] == [500, 500, 500, 470, 470, 470, 440, 440]
    assert client.get(f"/api/judges/{judge}/next").json()["finished"]


def test_two_judges_get_their_own_shuffled_plans(served):
    study, store, client = served
    a, b = (client.post("/api/judges").json()["judge"] for _ in range(2))
    assert a != b
    plan_a, plan_b = store.plan(a), store.plan(b)
    assert {t.image for t in plan_a} == {t.image for t in plan_b}  # every judge sees every image here
    assert [t.image for t in plan_a] != [t.image for t in plan_b]


def _snapshot(store: Store):
    return store.counts(), store.answers()


@pytest.mark.parametrize("path", [
    "/images/../study.json",
    "/images/..%2fstudy.json",
    "/images/%2e%2e%2fstudy.json",
    "/images/..%2F..%2Fetc%2Fpasswd",
    "/images/0123456789abcdef.png",  # well-formed but unknown
    "/images/",
    "/images",
    "/static/",
    "/study.json",
    "/answers.sqlite",
    "/..%2fstudy.json",
    "/images/%2e%2e/study.json",
])
def test_no_path_traversal_no_listing(served, path):
    study, store, client = served
    before = _snapshot(store)
    reply = client.get(path)
    assert 400 <= reply.status_code < 500, (path, reply.status_code)
    assert b"gankit-human-eval" not in reply.content and b"SQLite" not in reply.content
    assert _snapshot(store) == before


def test_images_of_the_study_are_served(served):
    study, store, client = served
    image = next(iter(study.images))
    reply = client.get(f"/images/{image}.png")
    assert reply.status_code == 200 and reply.headers["content-type"] == "image/png"
    assert reply.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_answers_get_4xx_and_change_nothing(served):
    study, store, client = served
    judge = client.post("/api/judges").json()["judge"]
    other = client.post("/api/judges").json()["judge"]
    trial = client.get(f"/api/judges/{judge}/next").json()
    good = {"position": trial["position"], "image": trial["image"], "answer": "real",
            "requested_ms": trial["exposure_ms"], "measured_ms": 480.0, "reaction_ms": 700.0}
    not_theirs = next(t.image for t in store.plan(other) if t.image not in {p.image for p in store.plan(judge)[:1]})
    bad_bodies = [
        b"not json",
        b"{\"position\": 0",
        b"[]",
        json.dumps({**good, "answer": "maybe"}).encode(),
        json.dumps({**good, "position": "0"}).encode(),
        json.dumps({**good, "position": -1}).encode(),
        json.dumps({**good, "extra": 1}).encode(),
        json.dumps({k: v for k, v in good.items() if k != "answer"}).encode(),
        json.dumps({**good, "measured_ms": -5}).encode(),
        json.dumps({**good, "measured_ms": None}).encode(),  # a timed protocol needs the measured time
        json.dumps({**good, "requested_ms": 100}).encode(),  # not the exposure the server asked for
        json.dumps({**good, "image": "../../study.json"}).encode(),
        json.dumps({**good, "image": "0123456789abcdef"}).encode(),  # unknown image
        json.dumps({**good, "image": not_theirs}).encode(),  # an image not planned here for this judge
        json.dumps({**good, "position": 5}).encode(),  # not the current trial
        json.dumps({**good, "position": 10_000}).encode(),
        json.dumps(good).replace("480.0", "NaN").encode(),
        b"{\"x\": \"" + b"a" * 5000 + b"\"}",
    ]
    before = _snapshot(store)
    for body in bad_bodies:
        reply = client.post(f"/api/judges/{judge}/answers", content=body, headers={"content-type": "application/json"})
        assert 400 <= reply.status_code < 500, (body[:60], reply.status_code, reply.text)
    for url in ("/api/judges/zzzzzzzzzz/answers", "/api/judges/../answers", "/api/judges/0123456789/answers"):
        assert 400 <= client.post(url, json=good).status_code < 500
    assert 400 <= client.get("/api/judges/0123456789/next").status_code < 500
    assert _snapshot(store) == before

    assert client.post(f"/api/judges/{judge}/answers", json=good).status_code == 200
    after_one = _snapshot(store)
    replay = client.post(f"/api/judges/{judge}/answers", json=good)  # a retried request
    assert replay.status_code == 409 and replay.json()["error"] == "already answered"
    assert _snapshot(store) == after_one


def _first_replies(client, n: int) -> list[dict]:
    judge = client.post("/api/judges").json()["judge"]
    replies = []
    for _ in range(n):
        trial = client.get(f"/api/judges/{judge}/next").json()
        replies.append(client.post(f"/api/judges/{judge}/answers", json={
            "position": trial["position"], "image": trial["image"], "answer": "real",
            "requested_ms": trial["exposure_ms"], "measured_ms": 490.0, "reaction_ms": 500.0}).json())
    return replies


def test_hype_time_tells_every_answer_right_or_wrong(served):
    study, store, client = served
    assert client.get("/api/study").json()["feedback"]
    assert all("truth" in reply for reply in _first_replies(client, 4))  # 2 practice, then scored ones


def test_a_study_made_in_the_current_empty_folder_fills_it_in_place(tmp_path, folders, monkeypatch):
    real, fake = folders
    here = tmp_path / "here"
    here.mkdir()
    inode = here.stat().st_ino
    monkeypatch.chdir(here)
    study = open_study(Path("."), StudyRequest(real=str(real), fakes=[str(fake)], protocol="hype-time",
                                               trials=8, practice=2, attention=2))
    assert study.path == here and here.stat().st_ino == inode  # the same folder, not a replacement
    assert (here / "images").is_dir() and not [p for p in tmp_path.iterdir() if p.name.startswith(".here")]


def test_hype_inf_gives_feedback_in_practice_only(tmp_path, folders):
    real, fake = folders
    study = open_study(tmp_path / "inf", StudyRequest(real=str(real), fakes=[str(fake)], protocol="hype-inf",
                                                      trials=8, practice=2, attention=2))
    store = Store(study.database, study.id)
    client = make_client(create_app(study, store))
    assert not client.get("/api/study").json()["feedback"]
    assert ["truth" in reply for reply in _first_replies(client, 3)] == [True, True, False]
    store.close()


@pytest.mark.parametrize("protocol, fakes, needed", [("hype-time", 1, 75 + 8), ("hype-inf", 2, 100 + 8)])
def test_default_trials_follow_hype(tmp_path, folders, protocol, fakes, needed):
    """Per fake source, a HYPE-time block of 150 images and HYPE-∞'s 100 (half of them real): the
    refusal of a too-small real folder says how many real images the default needs."""
    real, fake = folders
    with pytest.raises(UserError, match=f"this study needs {needed} "):
        open_study(tmp_path / "s", StudyRequest(real=str(real), fakes=[str(fake)] * fakes, protocol=protocol))


def test_resume_keeps_answers_and_refuses_other_settings(tmp_path, folders, study, served):
    real, fake = folders
    _, store, client = served
    judge = play_judge(client, study, truthful(study), limit=5)
    store.close()
    again = open_study(study.path, StudyRequest())  # no options: resume as made
    assert again.id == study.id
    resumed = Store(again.database, again.id)
    client = make_client(create_app(again, resumed))
    assert len(resumed.answers(judge)) == 5
    assert answer_trials(client, judge, truthful(again)) == 12 - 5
    resumed.close()
    assert open_study(study.path, StudyRequest(real=str(real), fakes=[str(fake)], protocol="hype-time")).id == study.id
    for request, word in [
        (StudyRequest(protocol="hype-inf"), "protocol hype-time"),
        (StudyRequest(protocol="fixed", exposure_ms=200), "protocol hype-time"),
        (StudyRequest(fakes=[str(real)]), "fakes"),
        (StudyRequest(trials=20), "trials"),
    ]:
        with pytest.raises(UserError, match=word):
            open_study(study.path, request)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_bad_input_is_one_line_and_status_2(cli, tmp_path, folders, study):
    real, fake = folders
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.png").write_bytes(b"this is not a png")
    broken_last = write_folder(tmp_path / "broken-last", 16, "real")  # read through the folder loader
    (broken_last / "zzz.png").write_bytes(b"this is not a png either")
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    busy = taken.getsockname()[1]
    port = str(_free_port())
    cases = [
        (["--real", str(empty), "--fake", str(fake)], "no images"),
        (["--real", str(real), "--fake", str(empty)], "no images"),
        (["--real", str(broken), "--fake", str(fake)], r"corrupt image .*a\.png.*in the --real folder\)$"),
        (["--real", str(broken_last), "--fake", str(fake)], r"corrupt image .*zzz\.png.*in the --real folder\)$"),
        (["--real", str(real), "--fake", str(broken)], r"corrupt image .*a\.png.*in the --fake folder\)$"),
        (["--real", str(real), "--fake", str(tmp_path / "missing")], "no such run folder or image folder"),
        (["--real", "no-such-data-set", "--fake", str(fake)], "data"),
        (["--real", str(real), "--fake", str(fake), "--protocol", "fixed"], "--exposure-ms"),
        (["--real", str(real), "--fake", str(fake), "--trials", "7"], "--trials"),
        (["--real", str(real), "--fake", str(fake), "--trials", "40"], "has 16 images"),
        (["--real", str(real), "--fake", str(fake), "--fake", str(fake), "--fake", str(fake)], "one or two"),
        (["--study", str(study.path), "--protocol", "hype-inf", "--trials", "8"], "protocol hype-time"),
        (["--study", str(tmp_path / "real")], "not a gankit human-eval study"),
        (["--real", str(real), "--fake", str(fake), "--port", str(busy)], "in use|cannot listen"),
        (["--real", str(real), "--fake", str(fake), "--study", str(broken / "a.png" / "study")],
         "cannot write the study folder"),
    ]
    try:
        for args, message in cases:
            study_args = [] if "--study" in args else ["--study", str(tmp_path / "new-study")]
            code, out, err = cli("human-eval", "serve", *study_args, "--port", port, "--trials", "8", *args)
            assert code == 2, (args, out, err)
            assert err.count("\n") == 1 and err.startswith("gankit: error:"), err
            assert re.search(message, err.strip()), (message, err)
            assert "skip_corrupt" not in err  # a training option: human-eval has none
            assert not (tmp_path / "new-study").exists()  # nothing half-made left behind
    finally:
        taken.close()
    code, _, err = cli("human-eval", "report", str(tmp_path / "real"))
    assert code == 2 and "not a gankit human-eval study" in err


def test_report_on_simulated_judges(cli, served):
    study, store, client = served
    careful = play_judge(client, study, truthful(study))
    fooled = play_judge(client, study, lambda image: "real" if study.images[image].role != "attention" else "fake")
    careless = play_judge(client, study, lambda image: "real")  # misses every attention check
    code, _, err = cli("human-eval", "report", str(study.path), "--bootstrap", "10000000")
    assert code == 2 and "--bootstrap takes 100 to 100,000 replicates" in err, err
    code, out, err = cli("human-eval", "report", str(study.path), "--bootstrap", "200")
    assert code == 0, err
    assert "1 careless" in out and "HYPE-time (mean modal exposure), fake:" in out
    report = json.loads((study.path / "report.json").read_text())
    # Always right: 500, 500, 500, 470, 470, 470, 440, 440 ms, so the modes 500 and 470 tie.
    assert report["hype_time"]["per_judge"][careful] == [485.0]
    assert report["judges"] == {"total": 3, "counted": 2, "careless": [careless]}
    assert report["answers"]["total"] == 3 * 12
    judges = {j["judge"]: j for j in report["per_judge"]}
    assert judges[careful]["accuracy"] == 1.0 and judges[fooled]["accuracy"] == 0.5
    rate = report["error_rates"]["by_source"]["fake"]["fake_judged_real"]
    assert rate["value"] == 0.5 and rate["low"] <= 0.5 <= rate["high"]
    assert report["error_rates"]["real_judged_fake"]["value"] == 0.0
    assert report["most_judged_real"][0]["judged_real"] == 1
    html = (study.path / "report.html").read_text()
    assert "data:image/png;base64," in html and "Fake images most often judged real" in html
    assert load_study(study.path).id == study.id  # the report changes nothing in the study


def test_report_compares_two_fake_sources(cli, tmp_path, folders):
    real, fake = folders
    close = write_folder(tmp_path / "close", 16, "real", seed=7)  # a "model" whose fakes look real
    study = open_study(tmp_path / "ab", StudyRequest(real=str(real), fakes=[str(fake), str(close)],
                                                     protocol="hype-inf", trials=8, practice=0, attention=2))
    store = Store(study.database, study.id)
    client = make_client(create_app(study, store))
    for _ in range(3):  # judges fooled by every "close" fake, never by the others
        play_judge(client, study, lambda image: "real" if study.images[image].source in ("real", "close") else "fake")
    store.close()
    code, out, err = cli("human-eval", "report", str(study.path), "--bootstrap", "200")
    assert code == 0, err
    report = json.loads((study.path / "report.json").read_text())
    comparison = report["comparison"]["fake_judged_real"]
    assert comparison["difference"]["value"] == -1.0 and comparison["significant"]
    assert "fake − close" in out and "significant" in out


def test_report_needs_answers(cli, study):
    code, _, err = cli("human-eval", "report", str(study.path))
    assert code == 2 and "no answers yet" in err


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda raw: [1, 2], r"\(a JSON list, not an object\)"),
        (lambda raw: {k: v for k, v in raw.items() if k != "format"}, r"\(format None, not "),
        (lambda raw: {k: v for k, v in raw.items() if k != "trials"}, r"\(no 'trials'\)"),
    ],
)
def test_a_damaged_manifest_is_one_line(cli, study, edit, message):
    manifest = study.path / "study.json"
    manifest.write_text(json.dumps(edit(json.loads(manifest.read_text()))))
    code, _, err = cli("human-eval", "report", str(study.path))
    assert code == 2 and err.count("\n") == 1 and re.search("is not a readable gankit human-eval manifest " + message, err), err


def test_write_report_returns_what_it_wrote(served):
    study, store, client = served
    play_judge(client, study, truthful(study))
    report = write_report(study.path, boots=200)
    assert all(Path(p).is_file() for p in report["written"])


def test_hype_time_compares_the_thresholds_of_two_sources(cli, tmp_path):
    real = write_folder(tmp_path / "real", 24, "real")
    fakes = [write_folder(tmp_path / name, 10, "fake", seed=seed) for name, seed in (("easy", 1), ("hard", 2))]
    study = open_study(tmp_path / "ab", StudyRequest(real=str(real), fakes=[str(f) for f in fakes],
                                                     protocol="hype-time", trials=40, practice=0, attention=0))
    store = Store(study.database, study.id)
    client = make_client(create_app(study, store))
    rng = random.Random(0)
    for _ in range(3):  # always right on the "easy" staircase, a coin flip on the "hard" one
        judge = client.post("/api/judges").json()["judge"]
        tracks = {t.image: t.track for t in store.plan(judge)}
        answer_trials(client, judge, lambda image: study.images[image].truth if tracks[image] == 0 or rng.random() < 0.5
                      else ("real" if study.images[image].truth == "fake" else "fake"))
    play_judge(client, study, lambda image: study.images[image].truth, limit=10)  # stops half-way: no threshold
    store.close()
    code, out, err = cli("human-eval", "report", str(study.path), "--bootstrap", "200")
    assert code == 0, err
    report = json.loads((study.path / "report.json").read_text())
    assert [v["judges"] for v in report["hype_time"]["by_source"].values()] == [3, 3]
    thresholds = {label: v["threshold_ms"]["value"] for label, v in report["hype_time"]["by_source"].items()}
    assert thresholds["easy"] < thresholds["hard"]
    assert report["comparison"]["threshold_ms"]["difference"]["value"] < 0
    assert "easy − hard, threshold ms" in out


def test_a_run_of_points_is_refused_as_fakes(cli, tmp_path, folders, trained_run):
    real, _ = folders
    code, _, err = cli("human-eval", "serve", "--study", tmp_path / "s", "--real", real, "--fake", trained_run,
                       "--trials", "8", "--port", str(_free_port()))
    assert code == 2 and "makes points, not images" in err


def test_a_damaged_answers_database_or_lost_images_keep_the_earlier_report(cli, served):
    """An emptied, truncated or stripped database is refused, never rebuilt to look valid, and
    the report written before it is kept; so is a study whose images are gone."""
    import contextlib
    import shutil
    import sqlite3

    study, store, client = served
    play_judge(client, study, truthful(study))
    assert cli("human-eval", "report", str(study.path), "--bootstrap", "200")[0] == 0
    store.close()
    good = (study.path / "report.json").read_bytes()
    database = study.path / "answers.sqlite"
    kept = database.read_bytes()

    def run_sql(statement):
        with contextlib.closing(sqlite3.connect(database)) as db:  # closed at once: no stale WAL later
            db.execute(statement)
            db.commit()

    for damage, message in (
        (lambda: database.write_bytes(b""), "it has no answers, judges, meta, plan table"),
        (lambda: run_sql("DELETE FROM meta"), "it names no study"),
        (lambda: run_sql("ALTER TABLE answers DROP COLUMN reaction_ms"), "its answers table lacks reaction_ms"),
    ):
        database.write_bytes(kept)
        for wal in study.path.glob("answers.sqlite-*"):
            wal.unlink()
        damage()
        code, _, err = cli("human-eval", "report", str(study.path), "--bootstrap", "200")
        assert code == 2 and err.count("\n") == 1 and message in err, err
        assert (study.path / "report.json").read_bytes() == good
    shutil.rmtree(study.path / "images")
    code, _, err = cli("human-eval", "report", str(study.path), "--bootstrap", "200")
    assert code == 2 and f"has lost {len(study.images)} of the study's {len(study.images)} images" in err, err


def test_a_new_answers_database_is_made_whole_or_not_at_all(tmp_path, monkeypatch):
    from gankit.errors import UserError
    from gankit.human_eval import store as store_module

    monkeypatch.setattr(store_module, "SCHEMA", store_module.SCHEMA + "\\nCREATE TABLE broken (;")
    with pytest.raises(UserError, match="the answers database cannot be made or opened"):
        Store(tmp_path / "answers.sqlite", "s1")
    assert list(tmp_path.iterdir()) == []  # no stub a later server would call damaged
    monkeypatch.undo()
    made = Store(tmp_path / "answers.sqlite", "s1")
    made.close()
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("answers.sqlite")] == []
    Store(tmp_path / "answers.sqlite", "s1").close()  # opened again as it is
