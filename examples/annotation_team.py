"""
A team of annotators: three people answer AQPL's level queries
===============================================================

The annotation app serves AQPL's perturbation-level queries to a team. Each query
is settled once three people have answered it, and its level is the lower median
of their answers, so one careless annotator cannot move it far. Here the three
people are simulated through the app's HTTP API, the way a browser talks to it:
each fetches the ladder's images (PNG), looks at them with their own "eyes" (a
noise-trained model) and picks the last level at which the content is still what
they see in the clean image.

- Ann is careful: she answers the threshold she sees.
- Bo is generous: he answers two levels above it.
- Cy is hurried: he misses by up to three levels either way, says "not
  recognisable at any level" when the clean image is unclear to him, and once
  clicks the wrong end of the ladder and undoes it.

The learner's ``HumanOracle`` takes the settled levels, trains with them, and the
app reports how far the annotators agree. Writes ``annotation_team.png`` (each
annotator's answers beside the aggregated level, and each one's offset from the
others) into the folder given as the first argument. Set
``ROBUSTSK_EXAMPLES_SMALL=1`` for a quick run.
"""

import io
import json
import os
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from robustsk.active import PerturbationLevelLearner  # noqa: E402
from robustsk.annotate import AnnotationServer, HumanOracle  # noqa: E402
from robustsk.datasets import load_digits_images  # noqa: E402
from robustsk.estimators import NoiseTrainedClassifier  # noqa: E402

small = os.environ.get("ROBUSTSK_EXAMPLES_SMALL") == "1"
out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".")

X, y = load_digits_images(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
eyes = NoiseTrainedClassifier(
    sigma=0.4, max_epochs=3 if small else 30, lr=3e-3, verbose=0, random_state=1
).fit(X_train, y_train)


def call(url, method="GET", body=None):
    """One JSON request to the app; (status, body)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


class Person(threading.Thread):
    """Answers open queries in the app under ``name``, as the page would."""

    def __init__(self, base, name, offset=0, jitter=0, seed=0):
        super().__init__(daemon=True)
        self.base, self.name, self.offset, self.jitter = base, name, offset, jitter
        self.rng = np.random.default_rng(seed)
        self.halt = threading.Event()
        self.misclicked = False

    def look(self, query):
        """The ladder's images as this person sees them: the class they read in each."""
        rungs = []
        for k in range(len(query["sigmas"])):
            with urllib.request.urlopen(
                f"{self.base}/api/queries/{query['id']}/image/{k}.png"
            ) as r:
                pixels = np.asarray(Image.open(io.BytesIO(r.read())), dtype=np.float32) / 255
            rungs.append(pixels[None])
        return eyes.predict_proba(np.stack(rungs))

    def run(self):
        who = urllib.parse.quote(self.name)
        while not self.halt.is_set():
            status, query = call(f"{self.base}/api/next?annotator={who}")
            if status != 200:
                time.sleep(0.05)
                continue
            proba = self.look(query)
            seen = proba.argmax(1)
            top = len(seen) - 1
            if self.jitter and proba[0].max() < 0.6:
                body = {"choice": "unrecognisable"}
            else:
                threshold = int(np.argmax(seen != seen[0]) - 1) if (seen != seen[0]).any() else top
                if self.jitter:
                    threshold += int(self.rng.integers(-self.jitter, self.jitter + 1))
                body = {"sigma": query["sigmas"][int(np.clip(threshold + self.offset, 0, top))]}
            if self.jitter and not self.misclicked:  # the wrong end of the ladder, undone
                self.misclicked = True
                call(
                    f"{self.base}/api/queries/{query['id']}/answer",
                    "POST",
                    {"sigma": query["sigmas"][top], "annotator": self.name},
                )
                call(f"{self.base}/api/undo", "POST", {"annotator": self.name})
            call(
                f"{self.base}/api/queries/{query['id']}/answer",
                "POST",
                {**body, "annotator": self.name},
            )


with tempfile.TemporaryDirectory() as tmp:
    server = AnnotationServer(Path(tmp) / "team.sqlite", port=0, answers_per_query=3).start()
    base = f"http://127.0.0.1:{server.port}"
    team = [
        Person(base, "Ann"),
        Person(base, "Bo", offset=2),
        Person(base, "Cy", jitter=3, seed=1),
    ]
    for person in team:
        person.start()
    oracle = HumanOracle(base, poll_interval=0.05, settle_time=0.5, verbose=0)
    learner = PerturbationLevelLearner(
        oracle,
        NoiseTrainedClassifier(max_epochs=2 if small else 10, lr=3e-3, verbose=0, random_state=0),
        n_per_side=4 if small else 15,
        n_draws=10 if small else 50,
        sigma_init=0.5,
        max_rounds=1 if small else 2,
        ladder=(0.0, 0.9, 0.05),
        random_state=0,
    )
    learner.fit(X_train, y_train).run(eval_set=(X_test, y_test), eval_sigma=0.5)
    for person in team:
        person.halt.set()
    store = server.store
    agreement = store.agreement()
    n = store.progress()["total"]
    rows = []
    for qid in range(1, n + 1):
        query = store.get(qid)
        ladder = np.asarray(query["sigmas"])
        answers = {
            r["annotator"]: (
                -1 if r["choice"] == "unrecognisable" else int(np.argmin(abs(ladder - r["sigma"])))
            )
            for r in store.responses(qid)
        }
        rows.append((answers, int(np.argmin(abs(ladder - query["answer"])))))
    undone = [
        r for qid in range(1, n + 1) for r in store.responses(qid, withdrawn=True) if r["why"]
    ]
    server.stop()

print(f"{n} queries, each answered by 3 people; learner history: {learner.history_[-1]}")
print(
    f"agreement: all on one level {agreement['exact']:.0%}, within one level "
    f"{agreement['within_one']:.0%}, mean gap {agreement['mean_gap']:.2f} levels"
)
for name, stats in agreement["annotators"].items():
    print(
        f"  {name}: {stats['answers']} answers, {stats['unrecognisable']} not recognisable, "
        f"offset {stats['offset']:+.2f} levels from the others"
    )
print(f"kept, though withdrawn: {[(r['annotator'], r['sigma'], r['why']) for r in undone]}")
print(f"not recognisable by most: {len(oracle.unrecognisable_)} queries")

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [3, 1]})
order = np.argsort([level for _, level in rows], kind="stable")
for name, marker in zip(("Ann", "Bo", "Cy"), "o^s"):
    left.scatter(
        np.arange(n),
        [rows[i][0].get(name, np.nan) for i in order],
        marker=marker,
        label=name,
        alpha=0.7,
    )
left.plot(np.arange(n), [rows[i][1] for i in order], color="k", label="aggregated (lower median)")
left.set_xlabel("query (sorted by its aggregated level)")
left.set_ylabel("answer, in ladder steps (-1: not recognisable)")
left.legend(fontsize=8)
names = list(agreement["annotators"])
right.bar(names, [agreement["annotators"][k]["offset"] or 0.0 for k in names])
right.axhline(0, color="k", lw=0.8)
right.set_ylabel("offset from the others' median, levels")
fig.suptitle("A team of three annotators (digits, answers through the app)")
fig.tight_layout()
fig.savefig(out_dir / "annotation_team.png", dpi=120)
print(f"wrote {out_dir / 'annotation_team.png'}")
