"""The annotation page: the ladder as a strip; click (or arrows + Enter) the threshold image."""

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>robustsk annotate</title>
<style>
 body { font-family: sans-serif; margin: 1.5em; background: #fafafa; }
 #strip { display: flex; flex-wrap: wrap; gap: 4px; }
 .rung { text-align: center; font-size: 10px; cursor: pointer; border: 2px solid transparent; }
 .rung img { width: 56px; height: 56px; image-rendering: pixelated; display: block; }
 .rung.current { border-color: #222; }
 .rung.focus { border-color: #d33; }
 #status { margin: 0.8em 0; }
</style></head>
<body>
<h2>Pick the last image whose content you can still recognise</h2>
<div id="status">loading...</div>
<div id="strip"></div>
<p>Click an image, or move with the arrow keys and press Enter. The black frame marks the
current level; the red frame your choice.</p>
<script>
const token = new URLSearchParams(location.search).get("token") || "";
const headers = {"Content-Type": "application/json", "X-Token": token};
let query = null, focus = 0;
function render() {
  document.querySelectorAll(".rung").forEach((el, i) =>
    el.classList.toggle("focus", i === focus));
}
async function answer(k) {
  const r = await fetch(`/api/queries/${query.id}/answer`, {method: "POST", headers,
    body: JSON.stringify({sigma: query.sigmas[k]})});
  if (!r.ok) { document.getElementById("status").textContent =
    "error: " + (await r.json()).detail; return; }
  load();
}
async function load() {
  const r = await fetch("/api/next", {headers});
  const strip = document.getElementById("strip");
  strip.innerHTML = "";
  if (r.status === 204) {
    query = null;
    const p = await (await fetch("/api/progress", {headers})).json();
    document.getElementById("status").textContent =
      `No open queries (${p.answered} of ${p.total} answered). Waiting for new ones...`;
    setTimeout(load, 1000); return;
  }
  query = await r.json();
  document.getElementById("status").textContent =
    `Query ${query.progress.answered + 1} of ${query.progress.total} (example ${query.example})`;
  focus = query.current_index;
  query.sigmas.forEach((s, k) => {
    const d = document.createElement("div");
    d.className = "rung" + (k === query.current_index ? " current" : "");
    d.dataset.sigma = s;
    const src = `/api/queries/${query.id}/image/${k}.png?token=${token}`;
    d.innerHTML = `<img alt="sigma ${s}" src="${src}"><span>${s.toFixed(2)}</span>`;
    d.onclick = () => answer(k);
    strip.appendChild(d);
  });
  render();
}
document.addEventListener("keydown", e => {
  if (!query) return;
  if (e.key === "ArrowRight") focus = Math.min(focus + 1, query.sigmas.length - 1);
  else if (e.key === "ArrowLeft") focus = Math.max(focus - 1, 0);
  else if (e.key === "Enter") { answer(focus); return; }
  else return;
  render();
});
load();
</script></body></html>
"""
