"""The capability matrix in doc/capabilities.md is true, cell by cell.

The page's table is parsed here: every cell says "yes", "yes (how)" or
"no: `ErrorType: fragment`", and each one is exercised on a small model of its
column's kind. A "yes" must return finite values of the right shape; a "no"
must raise that error type with that fragment in its message. The table must
cover every runner below and nothing else.
"""

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import TransformerMixin, clone
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    Binarizer,
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    StandardScaler,
)
from torch import nn

from robustsk import query
from robustsk.certify import compute_bounds
from robustsk.estimators import RobustNetClassifier
from robustsk.metrics import (
    AdversarialScorer,
    CorruptionScorer,
    RPRScorer,
    VerifiedErrorScorer,
    adversarial_accuracy,
    adversarial_examples,
    corruption_accuracy,
    rpr_score,
    rpr_steps,
    verified_error,
)

PAGE = Path(__file__).resolve().parents[1] / "doc" / "capabilities.md"
N = 40  # examples per call
NET = dict(max_epochs=2, lr=1e-2, batch_size=64, verbose=0)

#: Column header -> key of the ``models`` fixture.
COLUMNS = {
    "robustsk net": "robustsk",
    "skorch NeuralNetClassifier": "skorch",
    "bare torch.nn.Module": "module",
    "scikit-learn classifier": "sklearn",
    "Pipeline ending in a robustsk net": "pipeline",
}


@pytest.fixture(scope="module")
def data(digits):
    X_train, _, y_train, _ = digits
    return X_train[:400], y_train[:400]


@pytest.fixture(scope="module")
def models(data):
    """Each column's model, fitted, with the input it takes (images or flat rows)."""
    from skorch import NeuralNetClassifier

    X, y = data
    flat = X.reshape(len(X), -1)
    torch.manual_seed(0)
    skorch_module = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    return {
        "robustsk": (RobustNetClassifier(random_state=0, **NET).fit(X, y), X),
        "skorch": (
            NeuralNetClassifier(skorch_module, criterion=nn.CrossEntropyLoss, **NET).fit(X, y),
            X,
        ),
        "module": (nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), X),
        "sklearn": (LogisticRegression(max_iter=300).fit(flat, y), flat),
        "pipeline": (
            make_pipeline(
                StandardScaler(), RobustNetClassifier(clip=None, random_state=0, **NET)
            ).fit(flat, y),
            flat,
        ),
    }


def _image_shape(X):
    return (1, 8, 8) if X.ndim == 2 else None


def _bounds(model, X, y):
    """compute_bounds on the net's module: ``module_`` of a net, the last step's for a
    pipeline (a box in its transformed space), the object itself otherwise."""
    if isinstance(model, Pipeline):
        module, X = model[-1].module_, model[:-1].transform(X)
    else:
        module = getattr(model, "module_", model)
    x = torch.as_tensor(np.asarray(X[:N], dtype=np.float32))
    lb, ub = compute_bounds(module.eval() if isinstance(module, nn.Module) else module, x, x + 0.01)
    return torch.cat([lb, ub], dim=1).detach().numpy()


def _strategy(name, **kw):
    def run(model, X, y):
        idx, scores = getattr(query, name)(model, X[:N], 3, random_state=0, **kw)
        assert idx.shape == (3,) and len(set(idx.tolist())) == 3
        return scores

    return run


#: Name in the table -> ``f(model, X, y)`` returning the result to check.
RUNNERS = {
    "adversarial_accuracy": lambda m, X, y: adversarial_accuracy(
        m, X[:N], y[:N], eps=0.05, steps=3, random_state=0
    ),
    "adversarial_examples": lambda m, X, y: adversarial_examples(
        m, X[:N], y[:N], eps=0.05, steps=3, random_state=0
    ),
    "AdversarialScorer": lambda m, X, y: AdversarialScorer(eps=0.05, steps=3, random_state=0)(
        m, X[:N], y[:N]
    ),
    "corruption_accuracy": lambda m, X, y: corruption_accuracy(
        m, X[:N], y[:N], corruptions=["gaussian_noise"], image_shape=_image_shape(X)
    ),
    "CorruptionScorer": lambda m, X, y: CorruptionScorer(
        corruptions=["gaussian_noise"], image_shape=_image_shape(X)
    )(m, X[:N], y[:N]),
    "rpr_score": lambda m, X, y: rpr_score(m, X[:N], y[:N], max_steps=5, random_state=0),
    "rpr_steps": lambda m, X, y: rpr_steps(m, X[:N], y[:N], max_steps=5, random_state=0),
    "RPRScorer": lambda m, X, y: RPRScorer(max_steps=5)(m, X[:N], y[:N]),
    "verified_error": lambda m, X, y: verified_error(m, X[:N], y[:N], budget=0.01),
    "VerifiedErrorScorer": lambda m, X, y: VerifiedErrorScorer(budget=0.01)(m, X[:N], y[:N]),
    "compute_bounds": _bounds,
    "penultimate_embeddings": lambda m, X, y: query.penultimate_embeddings(m, X[:N]),
    **{
        name: _strategy(name)
        for name in [
            "random_sampling",
            "max_entropy",
            "least_confidence",
            "margin",
            "deepgini",
            "mcp",
            "dre",
            "clean_uncertainty",
            "coreset",
            "bald",
            "dropout_entropy",
            "egl",
            "dfal",
        ]
    },
    "noise_entropy": _strategy("noise_entropy", sample_sigma=0.1, n_draws=3),
    "noise_uncertainty": _strategy("noise_uncertainty", sample_sigma=0.1, n_draws=3),
}

#: What a "yes" returns: shape for N examples (None: a scalar in [-1, 1]).
SHAPES = {
    "adversarial_examples": "X",
    "rpr_steps": (N,),
    "penultimate_embeddings": (N, -1),
    "compute_bounds": (N, -1),
}


def _read_table():
    """``{(name, column): cell}`` from the page's capability table."""
    lines = [line.strip() for line in PAGE.read_text().splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("| metric or strategy"))
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    cells = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        row = [c.strip() for c in line.strip("|").split("|")]
        names = re.findall(r"`([A-Za-z_]+)`", row[0])
        for col, cell in zip(header[1:], row[1:]):
            for name in names:
                cells[(name, col)] = cell
    return header[1:], cells


HEADER, CELLS = _read_table()


def test_the_table_covers_every_runner_and_column():
    assert HEADER == list(COLUMNS)
    assert {name for name, _ in CELLS} == set(RUNNERS)
    for cell in CELLS.values():
        assert re.fullmatch(r"yes( \(.+\))?|no: `\w+: [^`]+`", cell), cell


@pytest.mark.parametrize(
    "name, column", sorted(CELLS), ids=[f"{n}-{COLUMNS[c]}" for n, c in sorted(CELLS)]
)
def test_cell(models, data, name, column):
    model, X = models[COLUMNS[column]]
    y = data[1]
    cell = CELLS[(name, column)]
    run = RUNNERS[name]
    if cell.startswith("yes"):
        out = np.asarray(run(model, X, y), dtype=np.float64)
        assert not np.isnan(out).any()
        shape = SHAPES.get(name)
        if shape is None and out.ndim == 1:  # a strategy's scores (+inf: no centre yet, ...)
            assert out.shape == (3,) and not np.isneginf(out).any()
        elif shape is None:  # a score
            assert out.ndim == 0 and -1.0 <= float(out) <= 1.0
        elif shape == "X":
            assert out.shape == X[:N].shape and np.isfinite(out).all()
        else:
            assert out.shape[0] == shape[0] and out.ndim == len(shape) and np.isfinite(out).all()
        return
    kind, fragment = re.fullmatch(r"no: `(\w+): ([^`]+)`", cell).groups()
    error = {"TypeError": TypeError, "ValueError": ValueError, "AttributeError": AttributeError}
    with pytest.raises(error[kind]) as info:
        run(model, X, y)
    # "…" in a cell stands for text left out: the pieces must appear in this order
    pattern = ".*".join(re.escape(piece) for piece in fragment.split("…") if piece)
    assert re.search(pattern, str(info.value), flags=re.S), (fragment, str(info.value))


# --- pipelines under gradient attacks ---------------------------------------------------------


def _reshape_to_images(X):
    return X.reshape(-1, 1, 8, 8)


class _TorchAffine(TransformerMixin, nn.Module):
    """A transformer that is a torch module: ``2 x - 1``, in eval mode a no-op dropout."""

    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(0.5)

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        was = self.training
        with torch.no_grad():
            out = self.eval()(torch.as_tensor(np.asarray(X, dtype=np.float32))).numpy()
        self.train(was)
        return out

    def forward(self, x):
        return self.drop(2 * x - 1)


@pytest.fixture(scope="module")
def flat(data):
    X, y = data
    return X.reshape(len(X), -1)[:200], y[:200]


def _fit_pipe(step, X, y):
    net = RobustNetClassifier(clip=None, random_state=0, **NET)
    return make_pipeline(step, net).fit(X, y)


@pytest.mark.parametrize(
    "step",
    [
        StandardScaler(),
        MinMaxScaler(feature_range=(-1, 1), clip=True),
        MaxAbsScaler(),
        PCA(16, whiten=True, random_state=0),
        FunctionTransformer(_reshape_to_images),
        make_pipeline(StandardScaler(), "passthrough", PCA(12, random_state=0)),
        _TorchAffine(),
    ],
    ids=["standard", "minmax-clip", "maxabs", "pca-whiten", "reshape", "nested", "module"],
)
def test_a_pipeline_is_attacked_in_its_raw_input_space(flat, step):
    X, y = flat
    pipe = _fit_pipe(step, X, y)
    clean = pipe.score(X, y)
    assert adversarial_accuracy(pipe, X, y, eps=0.0, steps=1) == pytest.approx(clean)
    kw = dict(eps=0.05, steps=5, alpha=0.02, random_state=0)
    X_adv = adversarial_examples(pipe, X, y, **kw)
    acc = adversarial_accuracy(pipe, X, y, **kw)
    assert X_adv.shape == X.shape
    assert np.abs(X_adv - X).max() <= 0.05 + 1e-6 and X_adv.min() >= 0 and X_adv.max() <= 1
    # the torch composite is the pipeline: its own predictions on the examples agree
    assert pipe.score(X_adv, y) == pytest.approx(acc)
    assert acc < clean  # the gradients reached the raw input


def test_a_reshaping_pipeline_is_attacked_like_its_net(data):
    X, y = data
    X, y = X[:200], y[:200]
    flat_X = X.reshape(len(X), -1)
    pipe = _fit_pipe(FunctionTransformer(_reshape_to_images), flat_X, y)
    kw = dict(eps=0.05, steps=5, alpha=0.02, clip=(0, 1), random_state=0)
    through = adversarial_examples(pipe, flat_X, y, **kw)
    direct = adversarial_examples(pipe[-1], X, y, **kw)
    np.testing.assert_allclose(through.reshape(X.shape), direct, atol=1e-6)


def test_modes_are_restored_after_attacking_a_pipeline(flat):
    X, y = flat
    step = _TorchAffine()
    pipe = _fit_pipe(step, X, y)
    pipe[-1].module_.train()
    step.train()
    adversarial_accuracy(pipe, X[:20], y[:20], eps=0.05, steps=2, random_state=0)
    assert pipe[-1].module_.training and step.training


def _log1p(X):
    return np.log1p(X)


def _double_numpy_only(X):
    return X * 2 if isinstance(X, np.ndarray) else X


def _detached(X):
    if isinstance(X, torch.Tensor):
        return torch.as_tensor(X.detach().numpy())
    return X


@pytest.mark.parametrize(
    "step, fragment",
    [
        (Binarizer(threshold=0.5), "step 0 'binarizer' (Binarizer) cannot be differentiated"),
        (FunctionTransformer(_log1p), "(FunctionTransformer(func=_log1p)) cannot be"),
        (FunctionTransformer(_double_numpy_only), "its torch form differs from its transform"),
        (FunctionTransformer(_detached), "gradients do not flow through it"),
        (make_pipeline(StandardScaler(), Binarizer()), "'pipeline' (Pipeline) cannot be"),
    ],
    ids=["binarizer", "numpy-func", "mismatch", "no-gradient", "nested"],
)
def test_a_step_without_a_torch_form_is_named(flat, step, fragment):
    X, y = flat
    pipe = _fit_pipe(step, X, y)
    with pytest.raises(TypeError, match="Steps before the net must be one of") as info:
        adversarial_accuracy(pipe, X, y, eps=0.05, steps=2)
    assert fragment in str(info.value)
    assert "probability-based strategy" not in str(info.value)


def test_a_pipeline_not_ending_in_a_net_is_refused(flat):
    X, y = flat
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)).fit(X, y)
    with pytest.raises(TypeError, match="last step 'logisticregression' is a LogisticRegression"):
        adversarial_accuracy(pipe, X, y)


def test_clip_is_the_raw_input_range(flat):
    X, y = flat
    pipe = _fit_pipe(StandardScaler(), X * 16, y)
    with pytest.raises(ValueError, match=r"outside the valid range clip=\(0.0, 1.0\)"):
        adversarial_accuracy(pipe, X * 16, y)
    X_adv = adversarial_examples(pipe, X * 16, y, eps=0.5, steps=2, clip=(0, 16), random_state=0)
    assert X_adv.min() >= 0 and X_adv.max() <= 16 and np.abs(X_adv - X * 16).max() <= 0.5 + 1e-5
    with pytest.raises(ValueError, match="torchattacks, which keeps examples in"):
        adversarial_accuracy(pipe, X * 16, y, attack="square", clip=(0, 16))


# --- scorers inside model selection ---------------------------------------------------------


def test_adversarial_scorer_scores_a_pipeline_in_cross_val_score(flat):
    X, y = flat
    pipe = make_pipeline(StandardScaler(), RobustNetClassifier(clip=None, random_state=0, **NET))
    scores = cross_val_score(
        pipe, X, y, cv=2, scoring=AdversarialScorer(eps=0.05, steps=3, random_state=0)
    )
    assert scores.shape == (2,) and np.isfinite(scores).all() and (scores >= 0).all()
    search = GridSearchCV(
        pipe,
        {"robustnetclassifier__lr": [1e-2, 3e-2]},
        cv=2,
        scoring=AdversarialScorer(eps=0.05, steps=3, random_state=0),
    ).fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize(
    "make, fragment",
    [
        (
            lambda: make_pipeline(Binarizer(), RobustNetClassifier(random_state=0, **NET)),
            "step 0 'binarizer' (Binarizer) cannot be differentiated",
        ),
        (
            lambda: LogisticRegression(max_iter=200),
            "got a LogisticRegression. Gradient attacks need the network",
        ),
    ],
    ids=["pipeline-step", "sklearn"],
)
def test_cross_val_score_shows_the_metrics_own_error(flat, make, fragment):
    X, y = flat
    scorer = AdversarialScorer(eps=0.05, steps=2)
    with pytest.raises(TypeError) as info:
        cross_val_score(make(), X, y, cv=2, scoring=scorer, error_score="raise")
    assert fragment in str(info.value)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scores = cross_val_score(clone(make()), X, y, cv=2, scoring=scorer)
    assert np.isnan(scores).all()  # scikit-learn's default error_score=np.nan
    failed = [str(w.message) for w in caught if "Scoring failed" in str(w.message)]
    assert len(failed) == 2 and all(fragment in m for m in failed)
    assert not any("probability-based strategy" in m for m in failed)
