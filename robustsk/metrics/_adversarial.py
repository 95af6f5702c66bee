"""Accuracy under adversarial attack, for robustsk estimators, skorch nets and pipelines
ending in one."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike

from ..attacks import deepfool, fgsm, pgd
from ..utils import (
    ClipRange,
    RandomStateLike,
    TorchClassifier,
    batches,
    check_clip,
    check_number,
    check_options,
    check_per_sample,
    draw_seed,
    fill_doc,
    is_pipeline,
    progress_bar,
)

BUILTIN_ATTACKS = ("pgd", "fgsm", "deepfool")
TORCHATTACKS_ATTACKS = ("autoattack", "square")
_INSTALL = "pip install --no-deps torchattacks"


def encode_labels(estimator: Any, y: ArrayLike) -> np.ndarray:
    """Class indices of labels ``y`` in the estimator's ``classes_``."""
    y = np.asarray(y)
    classes = np.asarray(getattr(estimator, "classes_", np.unique(y)))
    codes = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
    if (classes[codes] != y).any():
        raise ValueError(
            f"y holds labels the estimator does not know: "
            f"{np.unique(y[classes[codes] != y]).tolist()!r}."
        )
    return codes


_PARAMS = """estimator : fitted robustsk estimator, skorch net, or Pipeline ending in one
        Gradient attacks need the torch module. A scikit-learn ``Pipeline`` is
        attacked through its earlier steps, in the raw input space, when each of
        them has a torch form (StandardScaler, MinMaxScaler, MaxAbsScaler, PCA,
        a FunctionTransformer whose func works on torch tensors, a
        torch.nn.Module transformer, 'passthrough'); the torch form is checked
        against the step's ``transform`` on rows of ``X``. Any other model or
        step gets a ``TypeError`` that names it.
    X : array-like of shape (n_samples, ...)
        Clean inputs (the pipeline's raw inputs), inside ``clip``.
    y : array-like of shape (n_samples,)
        True labels.
    attack : {"pgd", "fgsm", "deepfool", "autoattack", "square"}, default="pgd"
        "pgd", "fgsm" and "deepfool" are built in; "autoattack" (standard
        version) and "square" come from torchattacks when it is installed.
        DeepFool searches the *smallest* L2 perturbation that changes the
        decision (at most ``steps`` iterations); under it a point counts as
        robust when it is classified correctly and DeepFool either fails or
        needs a perturbation of L2 norm greater than ``eps``. Its adversarial
        example is the DeepFool point where that norm is at most ``eps``, and
        the clean input elsewhere.
    eps : float or array-like of shape (n_samples,), default=0.3
        Radius of the threat model (0.3 for MNIST in the robust-AL paper), one
        for all or one per example (built-in attacks).
    alpha : float, default=0.01
        PGD step size.
    steps : int, default=50
        PGD steps (the paper evaluates with 50); DeepFool's most iterations.
    norm : {"inf", "2"} or None, default=None
        Threat-model norm; None means "2" for "deepfool" (an L2 attack, which
        refuses "inf") and "inf" for the others.
    clip : "auto", tuple (low, high) or None, default="auto"
        Valid input range the adversarial examples stay in; "auto" takes the
        estimator's ``clip`` (a Pipeline's raw inputs: (0, 1)). ``X`` must lie
        inside it. torchattacks' attacks work in [0, 1] only.
    batch_size : int, default=256
        Examples attacked together.
    random_state : None, int or numpy Generator, default=None
        Seeds the random starts.
    verbose : int, default=0
        Show a progress bar over batches."""


@fill_doc(params=_PARAMS)
def adversarial_accuracy(
    estimator: Any,
    X: ArrayLike,
    y: ArrayLike,
    *,
    attack: str = "pgd",
    eps: float | ArrayLike = 0.3,
    alpha: float = 0.01,
    steps: int = 50,
    norm: str | None = None,
    clip: str | ClipRange = "auto",
    batch_size: int = 256,
    random_state: RandomStateLike = None,
    verbose: int = 0,
) -> float:
    """Accuracy on adversarial examples crafted against ``estimator``.

    Parameters
    ----------
    {params}

    Returns
    -------
    accuracy : float
        Share of examples still classified correctly after the attack.

    Raises
    ------
    TypeError
        For a model the gradients cannot go through: a classifier without a
        torch network (e.g. LogisticRegression; use
        :func:`~robustsk.metrics.rpr_score` or
        :func:`~robustsk.metrics.corruption_accuracy`), a bare
        ``torch.nn.Module`` (wrap it in a skorch net), or a Pipeline step with
        no torch form; the message names it.
    ValueError
        For bad arguments, ``X`` outside ``clip``, or ``norm="inf"`` with DeepFool.
    ImportError
        For "autoattack" or "square" without torchattacks, with the install line.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from robustsk.datasets import load_digits_images
    >>> from robustsk.estimators import RobustNetClassifier
    >>> from robustsk.metrics import adversarial_accuracy
    >>> X, y = load_digits_images(return_X_y=True)
    >>> X = X.reshape(len(X), -1)[:300]
    >>> net = RobustNetClassifier(clip=None, max_epochs=2, verbose=0, random_state=0)
    >>> pipe = make_pipeline(StandardScaler(), net)
    >>> pipe = pipe.fit(X, y[:300])
    >>> acc = adversarial_accuracy(pipe, X, y[:300], eps=0.1, steps=5, random_state=0)
    >>> 0.0 <= acc <= pipe.score(X, y[:300])
    True
    """
    correct = 0
    for x_adv, t, model in _attack_batches(
        estimator,
        X,
        y,
        attack,
        eps,
        alpha,
        steps,
        norm,
        clip,
        batch_size,
        random_state,
        verbose,
        "adversarial_accuracy",
    ):
        with torch.no_grad():
            correct += int((model(x_adv).argmax(1) == t).sum())
    return correct / len(np.asarray(X))


@fill_doc(params=_PARAMS)
def adversarial_examples(
    estimator: Any,
    X: ArrayLike,
    y: ArrayLike,
    *,
    attack: str = "pgd",
    eps: float | ArrayLike = 0.3,
    alpha: float = 0.01,
    steps: int = 50,
    norm: str | None = None,
    clip: str | ClipRange = "auto",
    batch_size: int = 256,
    random_state: RandomStateLike = None,
    verbose: int = 0,
) -> np.ndarray:
    """Adversarial examples of ``X`` against ``estimator``, crafted batch by batch.

    Parameters
    ----------
    {params}

    Returns
    -------
    X_adv : ndarray of X's shape, float32
    """
    X = np.asarray(X, dtype=np.float32)
    parts = [
        x_adv.cpu().numpy()
        for x_adv, _, _ in _attack_batches(
            estimator,
            X,
            y,
            attack,
            eps,
            alpha,
            steps,
            norm,
            clip,
            batch_size,
            random_state,
            verbose,
            "adversarial_examples",
        )
    ]
    return np.concatenate(parts).reshape(X.shape)


_ADVICE = (
    "Gradient attacks need the network; for other classifiers use a metric that needs only "
    "predict: rpr_score or corruption_accuracy."
)


def _check_args(estimator, X, y, attack, eps, steps, norm, clip, batch_size, caller):
    """Validate everything before any work; return ``(net, X, codes, eps, norm, clip)``."""
    check_options(attack, "attack", set(BUILTIN_ATTACKS + TORCHATTACKS_ATTACKS))
    if norm is None:
        norm = "2" if attack == "deepfool" else "inf"
    check_options(norm, "norm", {"inf", "2"})
    if attack == "deepfool" and norm != "2":
        raise ValueError(
            f"attack='deepfool' searches the smallest L2 perturbation: norm must be '2' "
            f"(or None), got {norm!r}. Use attack='pgd' for an Linf threat model."
        )
    check_number(steps, "steps", low=1, integer=True)
    check_number(batch_size, "batch_size", low=1, integer=True)
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    X = np.asarray(X, dtype=np.float32)
    if X.ndim < 2 or X.shape[0] == 0:
        raise ValueError(f"X must have shape (n_samples, ...) with n_samples >= 1, got {X.shape}.")
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or infinity.")
    # the model first: the first rows of X check a pipeline's steps written in torch
    net = TorchClassifier(estimator, caller, advice=_ADVICE, pipeline_sample=X[:64])
    codes = encode_labels(estimator, y)
    if len(X) != len(codes):
        raise ValueError(f"X and y have {len(X)} and {len(codes)} rows.")
    eps = check_per_sample(eps, len(X), "eps", low=0.0)
    if attack in TORCHATTACKS_ATTACKS and np.ndim(eps):
        raise ValueError(f"attack={attack!r} takes one eps for all examples, got an array.")
    if isinstance(clip, str):
        check_options(clip, "clip", {"auto"})
        clip = (0.0, 1.0) if is_pipeline(estimator) else getattr(estimator, "clip", (0.0, 1.0))
    clip = check_clip(clip)
    if clip is not None and (X.min() < clip[0] - 1e-6 or X.max() > clip[1] + 1e-6):
        raise ValueError(
            f"X has values in [{X.min():.3g}, {X.max():.3g}], outside the valid range "
            f"clip={clip!r} that adversarial examples are kept in (clean inputs would be "
            "clipped too). Pass clip=(low, high) covering X's range, or clip=None."
        )
    outside_unit = X.min() < -1e-6 or X.max() > 1 + 1e-6
    if attack in TORCHATTACKS_ATTACKS and (clip not in (None, (0.0, 1.0)) or outside_unit):
        raise ValueError(
            f"attack={attack!r} comes from torchattacks, which keeps examples in [0, 1]: "
            f"X must lie in [0, 1] and clip must be (0, 1) or None, got X in "
            f"[{X.min():.3g}, {X.max():.3g}] and clip={clip!r}."
        )
    return net, X, codes, eps, norm, clip


def _attack_batches(
    estimator,
    X,
    y,
    attack,
    eps,
    alpha,
    steps,
    norm,
    clip,
    batch_size,
    random_state,
    verbose,
    caller,
):
    """Validate, then yield ``(x_adv, labels, model)`` batch by batch, the module in eval mode."""
    net, X, codes, eps, norm, clip = _check_args(
        estimator, X, y, attack, eps, steps, norm, clip, batch_size, caller
    )
    model = net.log_proba_module()
    seed = draw_seed(random_state)
    runner = (
        _torchattacks_runner(attack, model, eps, norm, seed, net)
        if attack in TORCHATTACKS_ATTACKS
        else None
    )
    gen = torch.Generator(device=net.device).manual_seed(seed)
    with net.evaluating():
        for s in progress_bar(list(batches(len(X), batch_size)), desc=attack, verbose=verbose):
            x = torch.as_tensor(X[s], device=net.device)
            t = torch.as_tensor(codes[s], device=net.device)
            e = eps[s] if np.ndim(eps) else eps
            if runner is not None:
                x_adv = runner(x, t)
            elif attack == "pgd":
                x_adv = pgd(
                    model,
                    x,
                    t,
                    eps=e,
                    alpha=alpha,
                    steps=steps,
                    norm=norm,
                    clip=clip,
                    random_state=gen,
                )
            elif attack == "deepfool":
                x_adv = _deepfool_within(model, x, t, e, steps, clip)
            else:
                x_adv = fgsm(model, x, t, eps=e, clip=clip)
            yield x_adv, t, model


def _deepfool_within(model, x, t, eps, steps, clip):
    """DeepFool's example where it fools a correct prediction within L2 radius ``eps``;
    the clean input elsewhere."""
    x_df, dist, fooled = deepfool(model, x, max_iter=steps, clip=clip)
    with torch.no_grad():
        correct = model(x).argmax(1) == t  # (batch,)
    radius = torch.as_tensor(eps, dtype=dist.dtype, device=dist.device)
    hit = correct & fooled & (dist <= radius)  # (batch,)
    return torch.where(hit.reshape((-1,) + (1,) * (x.ndim - 1)), x_df, x)


def _torchattacks_runner(attack, model, eps, norm, seed, net):
    try:
        import torchattacks
    except ImportError:
        raise ImportError(f"attack={attack!r} needs torchattacks: {_INSTALL}") from None
    n_classes = len(getattr(net.estimator, "classes_", [])) or 10
    norm_name = "Linf" if norm == "inf" else "L2"
    if attack == "autoattack":
        atk = torchattacks.AutoAttack(
            model, norm=norm_name, eps=eps, version="standard", n_classes=n_classes, seed=seed
        )
    else:
        atk = torchattacks.Square(model, norm=norm_name, eps=eps, seed=seed)
    return atk


class AdversarialScorer:
    """A scorer ``scorer(estimator, X, y) -> adversarial accuracy`` for GridSearchCV and
    cross_val_score (greater is better).

    Parameters
    ----------
    attack : {"pgd", "fgsm", "deepfool", "autoattack", "square"}, default="pgd"
        As in :func:`adversarial_accuracy`.
    eps : float, default=0.3
        Radius.
    **attack_params
        Other :func:`adversarial_accuracy` arguments (``alpha``, ``steps``, ``norm``,
        ``clip``, ``batch_size``, ``random_state``).

    Notes
    -----
    Inside ``cross_val_score`` and ``GridSearchCV`` a model the attack cannot
    go through (see :func:`adversarial_accuracy`) fails with the metric's own
    ``TypeError``: raised with ``error_score="raise"``, and in the
    "Scoring failed" warning, next to the NaN score, with scikit-learn's
    default ``error_score=np.nan``.
    """

    def __init__(self, attack: str = "pgd", eps: float | ArrayLike = 0.3, **attack_params: Any):
        self.attack = attack
        self.eps = eps
        self.attack_params = attack_params

    def __call__(self, estimator: Any, X: ArrayLike, y: ArrayLike) -> float:
        return adversarial_accuracy(
            estimator, X, y, attack=self.attack, eps=self.eps, **self.attack_params
        )

    def __repr__(self):
        extra = "".join(f", {k}={v!r}" for k, v in self.attack_params.items())
        return f"AdversarialScorer(attack={self.attack!r}, eps={self.eps!r}{extra})"
