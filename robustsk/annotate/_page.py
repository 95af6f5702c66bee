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
  const jsonHeaders = {"Content-Type": "application/json"};
  const PREVIEW_SIDE = 320;
  let query = null;
  let focus = 0;
  let zoom = Number(zoomInput.value);
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
    img.setAttribute("src", imageUrl(k));
    const caption = document.createElement("span");
    caption.textContent = Number(sigma).toFixed(2);
    box.appendChild(img);
    box.appendChild(caption);
    box.addEventListener("click", function () { answer(k); });
    box.addEventListener("mouseenter", function () { show(k); });
    box.addEventListener("mouseleave", function () { show(focus); });
    return box;
  }
  async function answer(k) {
    if (!query) { return; }
    const r = await fetch("/api/queries/" + encodeURIComponent(String(query.id)) + "/answer",
      {method: "POST", headers: jsonHeaders, credentials: "same-origin",
       body: JSON.stringify({sigma: query.sigmas[k]})});
    if (!r.ok) { say(await problem(r)); return; }
    load();
  }
  async function load() {
    const r = await fetch("/api/next", {credentials: "same-origin"});
    clear(strip);
    query = null;
    preview.removeAttribute("src");
    previewCaption.textContent = "";
    if (r.status === 204) {
      const p = await fetch("/api/progress", {credentials: "same-origin"});
      if (!p.ok) { say(await problem(p)); return; }
      const done = await p.json();
      say("No open queries (" + Number(done.answered) + " of " + Number(done.total) +
        " answered). Waiting for new ones...");
      window.setTimeout(load, 1000);
      return;
    }
    if (!r.ok) { say(await problem(r)); window.setTimeout(load, 3000); return; }
    query = await r.json();
    say("Query " + (Number(query.progress.answered) + 1) + " of " +
      Number(query.progress.total) + " (example " + String(query.example) + ")");
    focus = query.current_index;
    query.sigmas.forEach(function (s, k) { strip.appendChild(rung(k, s)); });
    render();
  }
  document.addEventListener("keydown", function (e) {
    if (!query) { return; }
    if (e.key === "+" || e.key === "=") { setZoom(zoom + 1); return; }
    if (e.key === "-") { setZoom(zoom - 1); return; }
    if (e.key === "ArrowRight") { focus = Math.min(focus + 1, query.sigmas.length - 1); }
    else if (e.key === "ArrowLeft") { focus = Math.max(focus - 1, 0); }
    else if (e.key === "Enter") { answer(focus); return; }
    else { return; }
    render();
  });
  preview.addEventListener("load", function () { enlarge(preview, previewFactor(preview)); });
  zoomInput.addEventListener("input", function () { setZoom(Number(zoomInput.value)); });
  load();
})();
"""


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


PAGE = (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
    "<title>robustsk annotate</title>\n<style>" + STYLE + "</style></head>\n<body>\n"
    "<h2>Pick the last image whose content you can still recognise</h2>\n"
    '<div id="status">loading...</div>\n'
    '<div id="controls"><label for="zoom">zoom</label> '
    '<input type="range" id="zoom" min="1" max="8" step="1" value="3"> '
    "(or the + and - keys)</div>\n"
    '<div id="work"><div id="strip"></div>\n'
    '<div id="preview-box"><img id="preview" alt="the focused level, enlarged">'
    '<span id="preview-caption"></span></div></div>\n'
    "<p>Click an image, or move with the arrow keys and press Enter. The black frame marks the\n"
    "current level; the red frame your choice, shown enlarged on the right.</p>\n"
    "<script>" + SCRIPT + "</script></body></html>\n"
)

#: The page's Content-Security-Policy: its own script and style (by hash), images and
#: requests to this server only, no plugins, no framing, no form posts, no base rewrites.
PAGE_CSP = (
    f"default-src 'none'; script-src {_sha256(SCRIPT)}; style-src {_sha256(STYLE)}; "
    "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
