"""The annotation page: the ladder as a strip; click (or arrows + Enter) the threshold image.

Images are served at their own size (28 x 28 for MNIST, 32 x 32 for CIFAR-10) and
drawn enlarged without smoothing: the strip at ``zoom`` times (a slider, or the
``+`` and ``-`` keys; 3 at first) and the focused level once more beside it, its
longer side 320 pixels (or the level under the mouse), so that a person judges a small
image at a readable size.

The page's script builds every node with ``createElement`` and puts data in
with ``textContent`` and ``setAttribute`` only; nothing from the URL or a
response is ever parsed as markup. The script and style are inline and
allowed by their hashes in :data:`PAGE_CSP`, which forbids every other script.
The token is never read by the script: the server exchanged ``?token=`` for
an ``HttpOnly`` cookie, and the script only removes it from the address bar.
"""

from __future__ import annotations

import base64
import hashlib

STYLE = """
body { font-family: sans-serif; margin: 1.5em; background: #fafafa; }
#strip { display: flex; flex-wrap: wrap; gap: 4px; flex: 1 1 auto; min-width: 0; }
.rung { text-align: center; font-size: 10px; cursor: pointer; border: 2px solid transparent; }
.rung img { image-rendering: pixelated; display: block; }
.rung.current { border-color: #222; }
.rung.focus { border-color: #d33; }
#status { margin: 0.8em 0; }
#work { display: flex; gap: 1.5em; align-items: flex-start; }
#preview-box { text-align: center; font-size: 12px; flex: none; position: sticky; top: 1em; }
#preview { image-rendering: pixelated; display: block; outline: 1px solid #ccc; }
#controls { margin: 0.5em 0; font-size: 13px; }
#who-box, #team { margin: 0.5em 0; font-size: 13px; }
#choices { margin: 0.5em 0; }
#choices button { margin-right: 0.5em; }
.hidden { display: none; }
"""

SCRIPT = """
"use strict";
(function () {
  const here = new URL(window.location.href);
  if (here.searchParams.has("token")) {  // the server has set the session cookie
    here.searchParams.delete("token");
    window.history.replaceState(null, "", here.pathname + here.search + here.hash);
  }
  const status = document.getElementById("status");
  const strip = document.getElementById("strip");
  const zoomInput = document.getElementById("zoom");
  const preview = document.getElementById("preview");
  const previewCaption = document.getElementById("preview-caption");
  const whoBox = document.getElementById("who-box");
  const whoInput = document.getElementById("who");
  const whoName = document.getElementById("who-name");
  const team = document.getElementById("team");
  const jsonHeaders = {"Content-Type": "application/json"};
  const PREVIEW_SIDE = 320;
  const NAME_KEY = "robustsk-annotator";
  const NAME_RULE = /^[\\p{L}\\p{N}](?:[\\p{L}\\p{N}_ .@-]{0,62}[\\p{L}\\p{N}_.@-])?$/u;
  let query = null;
  let focus = 0;
  let zoom = Number(zoomInput.value);
  let annotator = null;
  let waiting = null;
  function say(text) { status.textContent = String(text); }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }
  async function problem(r) {
    let detail = r.status + " " + r.statusText;
    try {
      const body = await r.json();
      if (body && typeof body.detail === "string") { detail = body.detail; }
    } catch (e) { /* not JSON: keep the status line */ }
    return "error: " + detail;
  }
  function pause(ms) { return new Promise(function (done) { window.setTimeout(done, ms); }); }
  function retryAfter(r) {  // seconds a 429 asks to wait (1 to 30)
    const after = Number(r.headers.get("Retry-After"));
    return after >= 1 && after <= 30 ? after : 1;
  }
  async function call(path, options) {  // a 429 (the server is busy) is waited out, retried
    for (let attempt = 0; ; attempt++) {
      const r = await fetch(path, options);
      if (r.status !== 429 || attempt >= 5) { return r; }
      await pause(1000 * retryAfter(r));
    }
  }
  function retryImage(img) {  // an image refused while the server was busy is asked again
    let tries = 0;
    img.addEventListener("error", function () {
      const src = img.getAttribute("src");
      if (src === null || tries >= 3) { return; }
      tries += 1;
      window.setTimeout(function () {
        if (img.getAttribute("src") === src) { img.setAttribute("src", src); }
      }, 1000 * tries);
    });
  }
  function post(path, body) {
    return call(path, {method: "POST", headers: jsonHeaders, credentials: "same-origin",
      body: JSON.stringify(body)});
  }
  function storedName() {
    try { return window.localStorage.getItem(NAME_KEY); } catch (e) { return null; }
  }
  function askName() {
    annotator = null;
    query = null;
    clear(strip);
    whoBox.classList.remove("hidden");
    whoInput.value = storedName() || "";
    whoInput.focus();
    say("Type your name to start: your answers are kept under it.");
  }
  function setName() {
    const name = whoInput.value.trim();
    if (!NAME_RULE.test(name)) {
      say("A name is 1 to 64 letters, digits, spaces or . _ @ -, starting with a letter or digit.");
      return;
    }
    annotator = name;
    try { window.localStorage.setItem(NAME_KEY, name); } catch (e) { /* private mode */ }
    whoName.textContent = name;
    whoBox.classList.add("hidden");
    whoInput.blur();
    load();
  }
  function enlarge(img, factor) {  // CSSOM only: no style attribute, nothing parsed
    if (!img.naturalWidth) { return; }
    img.style.width = String(img.naturalWidth * factor) + "px";
    img.style.height = String(img.naturalHeight * factor) + "px";
  }
  function previewFactor(img) {
    const side = Math.max(img.naturalWidth, img.naturalHeight, 1);
    return Math.max(1, Math.floor(PREVIEW_SIDE / side));
  }
  function setZoom(value) {
    zoom = Math.min(Number(zoomInput.max), Math.max(Number(zoomInput.min), value));
    zoomInput.value = String(zoom);
    strip.querySelectorAll(".rung img").forEach(function (img) { enlarge(img, zoom); });
  }
  function render() {
    strip.querySelectorAll(".rung").forEach(function (el, i) {
      el.classList.toggle("focus", i === focus);
    });
    show(focus);
  }
  function show(k) {  // the preview: the focused level, or the one under the mouse
    if (!query) { return; }
    preview.setAttribute("src", imageUrl(k));
    previewCaption.textContent = "sigma " + Number(query.sigmas[k]).toFixed(2);
  }
  function imageUrl(k) {
    return "/api/queries/" + encodeURIComponent(String(query.id)) +
      "/image/" + encodeURIComponent(String(k)) + ".png";
  }
  function rung(k, sigma) {
    const box = document.createElement("div");
    box.classList.add("rung");
    if (k === query.current_index) { box.classList.add("current"); }
    box.setAttribute("data-sigma", String(sigma));
    const img = document.createElement("img");
    img.setAttribute("alt", "sigma " + String(sigma));
    img.addEventListener("load", function () { enlarge(img, zoom); });
    retryImage(img);
    img.setAttribute("src", imageUrl(k));
    const caption = document.createElement("span");
    caption.textContent = Number(sigma).toFixed(2);
    box.appendChild(img);
    box.appendChild(caption);
    box.addEventListener("click", function () { answer({sigma: query.sigmas[k]}); });
    box.addEventListener("mouseenter", function () { show(k); });
    box.addEventListener("mouseleave", function () { show(focus); });
    return box;
  }
  async function answer(choice) {  // {sigma: level} or {choice: "unrecognisable" | "skip"}
    if (!query || !annotator) { return; }
    const body = Object.assign({annotator: annotator}, choice);
    const r = await post("/api/queries/" + encodeURIComponent(String(query.id)) + "/answer",
      body);
    if (!r.ok) { say(await problem(r)); return; }
    load();
  }
  async function undo() {
    if (!annotator) { return; }
    const r = await post("/api/undo", {annotator: annotator});
    if (!r.ok) { say(await problem(r)); return; }
    const body = await r.json();
    if (body.query) { display(body.query, "Undone: answer query " + String(body.id) + " again"); }
    else { load(); }
  }
  function display(next, line) {
    if (waiting !== null) { window.clearTimeout(waiting); waiting = null; }
    clear(strip);
    query = next;
    say(line);
    focus = query.current_index;
    query.sigmas.forEach(function (s, k) { strip.appendChild(rung(k, s)); });
    render();
    showTeam();
  }
  async function showTeam() {
    const r = await call("/api/agreement", {credentials: "same-origin"});
    if (!r.ok) { return; }
    const a = await r.json();
    const names = Object.keys(a.annotators || {}).length;
    let line = names + (names === 1 ? " annotator" : " annotators");
    if (Number(a.queries) > 0) {
      line += "; answers within one level of each other on " +
        Math.round(100 * Number(a.within_one)) + "% of the " + Number(a.queries) +
        " queries answered by two or more (mean gap " + Number(a.mean_gap).toFixed(2) +
        " levels)";
    }
    team.textContent = "Team: " + line + ".";
  }
  async function load() {
    if (waiting !== null) { window.clearTimeout(waiting); waiting = null; }
    if (!annotator) { return; }
    const r = await call("/api/next?annotator=" + encodeURIComponent(annotator),
      {credentials: "same-origin"});
    clear(strip);
    query = null;
    preview.removeAttribute("src");
    previewCaption.textContent = "";
    if (r.status === 204) {
      const p = await call("/api/progress", {credentials: "same-origin"});
      if (!p.ok) { say(await problem(p)); return; }
      const done = await p.json();
      say("No open queries (" + Number(done.answered) + " of " + Number(done.total) +
        " answered). Waiting for new ones...");
      showTeam();
      waiting = window.setTimeout(load, 1000);
      return;
    }
    if (!r.ok) { say(await problem(r)); waiting = window.setTimeout(load, 3000); return; }
    const next = await r.json();
    display(next, "Query " + (Number(next.progress.answered) + 1) + " of " +
      Number(next.progress.total) + " (example " + String(next.example) + "; you have " +
      "answered " + Number(next.mine) + ")");
  }
  document.addEventListener("keydown", function (e) {
    if (e.target === whoInput) { if (e.key === "Enter") { setName(); } return; }
    if (e.target instanceof HTMLButtonElement && (e.key === "Enter" || e.key === " ")) {
      e.preventDefault();  // Enter answers at the focus; it does not press the last button
    }
    if (!annotator) { return; }
    if (e.key === "u" || e.key === "U") { undo(); return; }
    if (!query) { return; }
    if (e.key === "+" || e.key === "=") { setZoom(zoom + 1); return; }
    if (e.key === "-") { setZoom(zoom - 1); return; }
    if (e.key === "n" || e.key === "N") { answer({choice: "unrecognisable"}); return; }
    if (e.key === "s" || e.key === "S") { answer({choice: "skip"}); return; }
    if (e.key === "ArrowRight") { focus = Math.min(focus + 1, query.sigmas.length - 1); }
    else if (e.key === "ArrowLeft") { focus = Math.max(focus - 1, 0); }
    else if (e.key === "Enter") { answer({sigma: query.sigmas[focus]}); return; }
    else { return; }
    render();
  });
  preview.addEventListener("load", function () { enlarge(preview, previewFactor(preview)); });
  retryImage(preview);
  zoomInput.addEventListener("input", function () { setZoom(Number(zoomInput.value)); });
  document.getElementById("who-go").addEventListener("click", setName);
  document.getElementById("who-change").addEventListener("click", askName);
  document.getElementById("unrecognisable").addEventListener("click", function () {
    answer({choice: "unrecognisable"});
  });
  document.getElementById("skip").addEventListener("click", function () {
    answer({choice: "skip"});
  });
  document.getElementById("undo").addEventListener("click", undo);
  const known = storedName();
  if (known && NAME_RULE.test(known)) { whoInput.value = known; setName(); } else { askName(); }
})();
"""


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


PAGE = (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
    "<title>robustsk annotate</title>\n<style>" + STYLE + "</style></head>\n<body>\n"
    "<h2>Pick the last image whose content you can still recognise</h2>\n"
    '<div id="who-box" class="hidden"><label for="who">Your name</label> '
    '<input id="who" maxlength="64" autocomplete="name"> '
    '<button id="who-go" type="button">Start</button></div>\n'
    '<div id="status">loading...</div>\n'
    '<div id="controls"><label for="zoom">zoom</label> '
    '<input type="range" id="zoom" min="1" max="8" step="1" value="3"> '
    '(or the + and - keys) &middot; annotating as <b id="who-name"></b> '
    '<button id="who-change" type="button">change</button></div>\n'
    '<div id="choices">'
    '<button id="unrecognisable" type="button">Not recognisable at any level (N)</button>'
    '<button id="skip" type="button">Skip (S)</button>'
    '<button id="undo" type="button">Undo my last answer (U)</button></div>\n'
    '<div id="team"></div>\n'
    '<div id="work"><div id="strip"></div>\n'
    '<div id="preview-box"><img id="preview" alt="the focused level, enlarged">'
    '<span id="preview-caption"></span></div></div>\n'
    "<p>Click an image, or move with the arrow keys and press Enter. The black frame marks the\n"
    "current level; the red frame your choice, shown enlarged on the right. If the content\n"
    "cannot be recognised even in the first image, say so (N); to leave a query to the\n"
    "others, skip it (S); a wrong answer can be undone (U) until the learner takes it.</p>\n"
    "<script>" + SCRIPT + "</script></body></html>\n"
)

#: The page's Content-Security-Policy: its own script and style (by hash), images and
#: requests to this server only, no plugins, no framing, no form posts, no base rewrites.
PAGE_CSP = (
    f"default-src 'none'; script-src {_sha256(SCRIPT)}; style-src {_sha256(STYLE)}; "
    "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
