"""The annotation page: the ladder as a strip; click (or arrows + Enter) the threshold image.

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
#strip { display: flex; flex-wrap: wrap; gap: 4px; }
.rung { text-align: center; font-size: 10px; cursor: pointer; border: 2px solid transparent; }
.rung img { width: 56px; height: 56px; image-rendering: pixelated; display: block; }
.rung.current { border-color: #222; }
.rung.focus { border-color: #d33; }
#status { margin: 0.8em 0; }
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
  const jsonHeaders = {"Content-Type": "application/json"};
  let query = null;
  let focus = 0;
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
  function render() {
    strip.querySelectorAll(".rung").forEach(function (el, i) {
      el.classList.toggle("focus", i === focus);
    });
  }
  function rung(k, sigma) {
    const box = document.createElement("div");
    box.classList.add("rung");
    if (k === query.current_index) { box.classList.add("current"); }
    box.setAttribute("data-sigma", String(sigma));
    const img = document.createElement("img");
    img.setAttribute("alt", "sigma " + String(sigma));
    img.setAttribute("src", "/api/queries/" + encodeURIComponent(String(query.id)) +
      "/image/" + encodeURIComponent(String(k)) + ".png");
    const caption = document.createElement("span");
    caption.textContent = Number(sigma).toFixed(2);
    box.appendChild(img);
    box.appendChild(caption);
    box.addEventListener("click", function () { answer(k); });
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
    if (e.key === "ArrowRight") { focus = Math.min(focus + 1, query.sigmas.length - 1); }
    else if (e.key === "ArrowLeft") { focus = Math.max(focus - 1, 0); }
    else if (e.key === "Enter") { answer(focus); return; }
    else { return; }
    render();
  });
  load();
})();
"""


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


PAGE = (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
    "<title>robustsk annotate</title>\n<style>" + STYLE + "</style></head>\n<body>\n"
    "<h2>Pick the last image whose content you can still recognise</h2>\n"
    '<div id="status">loading...</div>\n<div id="strip"></div>\n'
    "<p>Click an image, or move with the arrow keys and press Enter. The black frame marks the\n"
    "current level; the red frame your choice.</p>\n<script>" + SCRIPT + "</script></body></html>\n"
)

#: The page's Content-Security-Policy: its own script and style (by hash), images and
#: requests to this server only, no plugins, no framing, no form posts, no base rewrites.
PAGE_CSP = (
    f"default-src 'none'; script-src {_sha256(SCRIPT)}; style-src {_sha256(STYLE)}; "
    "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
