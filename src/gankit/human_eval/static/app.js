// gankit human evaluation: the judge's page.
//
// The server decides what to show and for how long; this page shows it honestly and measures it.
// Each trial follows HYPE (Zhou et al. 2019): a 3-2-1 countdown, the image, and after a time-limited
// image four noise masks in quick succession. An image is decoded during the countdown, drawn on the
// next animation frame and hidden on the frame at which its requested time is (to the nearest frame)
// up; the time it was actually on screen is the difference of the two requestAnimationFrame
// timestamps, and is stored with the answer.
// Answers that the server has not confirmed are retried until it has, so a restarted server loses
// nothing; a reply of "already answered" means an earlier try got through.
"use strict";

const KEYS = { f: "real", F: "real", ArrowLeft: "real", j: "fake", J: "fake", ArrowRight: "fake" };
const SECTIONS = ["intro", "stage", "break", "done", "failed"];
const FEEDBACK_MS = 1200;
const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let study = null;
let judge = null;
let awaiting = null; // resolves the current trial's answer while one is expected

function show(section) {
  for (const name of SECTIONS) $(name).hidden = name !== section;
  document.body.dataset.stage = section;
}

function fail(message) {
  $("failure").textContent = message;
  show("failed");
  throw new Error(message);
}

// One request, retried while the server cannot be reached or fails (5xx); 4xx replies are returned.
async function api(method, path, body) {
  for (let attempt = 1; ; attempt++) {
    let response = null;
    try {
      response = await fetch(path, {
        method,
        cache: "no-store",
        headers: body === undefined ? {} : { "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      response = null;
    }
    if (response !== null && response.status < 500) {
      $("banner").hidden = true;
      return { status: response.status, data: await response.json() };
    }
    $("banner").textContent = "Lost the connection to the study server; retrying… (your answers so far are saved)";
    $("banner").hidden = false;
    await sleep(Math.min(2000, 200 * attempt));
  }
}

// Resolves when the button is clicked or one of the keys is pressed.
function proceed(button, keys) {
  return new Promise((resolve) => {
    const done = () => {
      button.removeEventListener("click", done);
      document.removeEventListener("keydown", onKey);
      resolve();
    };
    const onKey = (event) => {
      if (keys.includes(event.key) && !event.repeat) {
        event.preventDefault();
        done();
      }
    };
    button.addEventListener("click", done);
    document.addEventListener("keydown", onKey);
  });
}

function setProgress(state) {
  $("progress").textContent = state.practice_done < state.practice_total
    ? `Practice ${state.practice_done + 1} of ${state.practice_total}`
    : `Image ${Math.min(state.done + 1, state.total)} of ${state.total}`;
}

function remember(id) {
  judge = id;
  localStorage.setItem("gankit-judge", id);
  const url = new URL(location.href);
  url.searchParams.set("judge", id);
  history.replaceState(null, "", url);
  $("judge-id").textContent = `judge ${id}`;
}

// Load and decode the image before it is due, so it appears on the very frame it is drawn on.
async function load(image, url) {
  for (let attempt = 1; ; attempt++) {
    image.src = attempt === 1 ? url : `${url}?try=${attempt}`;
    try {
      await image.decode();
      $("banner").hidden = true;
      return;
    } catch (err) {
      $("banner").textContent = "Lost the connection to the study server; retrying…";
      $("banner").hidden = false;
      await sleep(Math.min(2000, 200 * attempt));
    }
  }
}

// Fresh noise for each backward mask, at the image's own resolution (scaled up like the image).
function prepareMasks() {
  const canvas = $("mask");
  canvas.width = canvas.height = study.size;
  const context = canvas.getContext("2d");
  return Array.from({ length: study.masks }, () => {
    const pixels = context.createImageData(study.size, study.size);
    for (let i = 0; i < pixels.data.length; i += 4) {
      const grey = Math.random() * 256;
      pixels.data[i] = study.channels === 1 ? grey : Math.random() * 256;
      pixels.data[i + 1] = study.channels === 1 ? grey : Math.random() * 256;
      pixels.data[i + 2] = study.channels === 1 ? grey : Math.random() * 256;
      pixels.data[i + 3] = 255;
    }
    return pixels;
  });
}

// The countdown before the image: each number for countdown_ms, in the middle of the frame.
async function countdown() {
  const counter = $("countdown");
  counter.style.visibility = "visible";
  for (let n = study.countdown_from; n >= 1; n--) {
    counter.textContent = String(n);
    await sleep(study.countdown_ms);
  }
}

// Draw the image on the next frame; hide it on the frame whose timestamp is closest to onset +
// exposure, and from there show the masks one after another, each for mask_ms to the nearest frame.
// Resolves when the image is hidden, with the frame timestamps: on-screen time = offset - onset.
function present(exposure, masks) {
  const image = $("stimulus");
  const mask = $("mask");
  return new Promise((resolve) => {
    requestAnimationFrame((onset) => {
      $("countdown").style.visibility = "hidden";
      image.style.visibility = "visible";
      if (exposure === null) {
        resolve({ onset, offset: null });
        return;
      }
      let last = onset;
      let frame = 1000 / 60;
      let offset = null;
      let drawn = -1;
      const tick = (now) => {
        if (now - last > 4 && now - last < 100) frame = now - last;
        last = now;
        if (offset === null) {
          if (now - onset + frame / 2 < exposure) {
            requestAnimationFrame(tick);
            return;
          }
          offset = now;
          image.style.visibility = "hidden";
          mask.style.visibility = "visible";
          resolve({ onset, offset });
        }
        const index = Math.floor((now - offset + frame / 2) / study.mask_ms);
        if (index >= masks.length) {
          mask.style.visibility = "hidden";
          return;
        }
        if (index !== drawn) {
          mask.getContext("2d").putImageData(masks[index], 0, 0);
          drawn = index;
        }
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
  });
}

function answerWith(answer, timeStamp) {
  if (awaiting !== null) {
    const resolve = awaiting;
    awaiting = null;
    resolve({ answer, at: timeStamp || performance.now() });
  }
}

function waitForAnswer() {
  $("answer-real").disabled = $("answer-fake").disabled = false;
  return new Promise((resolve) => {
    awaiting = resolve;
  }).finally(() => {
    $("answer-real").disabled = $("answer-fake").disabled = true;
  });
}

async function runTrial(trial) {
  const image = $("stimulus");
  for (const id of ["stimulus", "mask"]) $(id).style.visibility = "hidden";
  $("prompt").innerHTML = "&nbsp;";
  $("feedback").innerHTML = "&nbsp;";
  $("feedback").className = "";
  show("stage");
  const loading = load(image, trial.url);
  const masks = trial.exposure_ms === null ? [] : prepareMasks();
  await countdown();
  await loading;

  const shown = await present(trial.exposure_ms, masks);
  $("prompt").textContent = "Real or fake?";
  const { answer, at } = await waitForAnswer();
  image.style.visibility = "hidden";
  const measured = shown.offset !== null ? shown.offset - shown.onset : at - shown.onset;
  const reply = await api("POST", `/api/judges/${judge}/answers`, {
    position: trial.position,
    image: trial.image,
    answer,
    requested_ms: trial.exposure_ms,
    measured_ms: Math.round(measured * 10) / 10,
    reaction_ms: Math.round(Math.max(0, at - shown.onset) * 10) / 10,
  });
  if (reply.status === 409 && reply.data.error === "already answered") return;
  if (reply.status !== 200) fail(`The server refused the answer: ${reply.data.error}`);
  if (reply.data.truth !== undefined) { // practice, and every answer in HYPE-time
    const right = reply.data.truth === answer;
    $("feedback").className = right ? "right" : "wrong";
    $("feedback").textContent = `${right ? "Right" : "Not quite"}: this image was ${reply.data.truth}.`;
    await sleep(FEEDBACK_MS);
  }
}

async function run() {
  let practising = null;
  for (;;) {
    const reply = await api("GET", `/api/judges/${judge}/next`);
    if (reply.status !== 200) fail(reply.data.error);
    const trial = reply.data;
    setProgress(trial);
    if (trial.finished) {
      $("progress").textContent = `${trial.total} of ${trial.total} done`;
      show("done");
      return;
    }
    if (practising === true && !trial.practice) {
      show("break");
      await proceed($("continue"), [" ", "Enter"]);
    }
    practising = trial.practice;
    await runTrial(trial);
  }
}

async function main() {
  study = (await api("GET", "/api/study")).data;
  $("intro-timed").hidden = !study.timed;
  $("intro-untimed").hidden = study.timed;
  $("intro-practice").hidden = study.practice === 0;
  for (const id of ["intro-feedback", "break-feedback"]) $(id).hidden = !study.feedback;
  for (const id of ["intro-no-feedback", "break-no-feedback"]) $(id).hidden = study.feedback;
  const asked = new URLSearchParams(location.search).get("judge") || localStorage.getItem("gankit-judge");
  if (asked) {
    const reply = await api("GET", `/api/judges/${encodeURIComponent(asked)}`);
    if (reply.status === 200) {
      remember(asked);
      const state = reply.data;
      $("resume-note").textContent = state.finished
        ? "You have finished this study; thank you."
        : `Welcome back: you have answered ${state.done} of ${state.total} images.`;
      $("resume-note").hidden = false;
      $("start").textContent = state.finished ? "Show" : "Continue";
    }
  }
  show("intro");
  await proceed($("start"), ["Enter"]);
  if (judge === null) remember((await api("POST", "/api/judges")).data.judge);
  await run();
}

document.addEventListener("keydown", (event) => {
  if (event.key in KEYS && !event.repeat && !event.ctrlKey && !event.metaKey && !event.altKey) {
    if (awaiting !== null) event.preventDefault();
    answerWith(KEYS[event.key], event.timeStamp);
  }
});
$("answer-real").addEventListener("click", (event) => answerWith("real", event.timeStamp));
$("answer-fake").addEventListener("click", (event) => answerWith("fake", event.timeStamp));
$("reload").addEventListener("click", () => location.reload());
main();
