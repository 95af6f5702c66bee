"""Accuracy under adversarial attack, for robustsk estimators, skorch nets and pipelines
ending in one."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.utils import Bunch

from ..attacks import carlini_wagner_l2, deepfool, fgsm, pgd
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

BUILTIN_ATTACKS = ("pgd", "fgsm", "deepfool", "cw")
#: The built-in attacks that search the smallest L2 perturbation (counted within ``eps``).
MINIMAL_L2_ATTACKS = ("deepfool", "cw")
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
    attack : str, torchattacks attack, callable, or list of them, default="pgd"
        "pgd", "fgsm", "deepfool" and "cw" are built in; "autoattack"
        (standard version) and "square" come from torchattacks when it is
        installed. DeepFool and "cw" (Carlini-Wagner L2, ``steps`` Adam steps,
        ``c=1``) search the *smallest* L2 perturbation that changes the
        decision; under them a point counts as robust when it is classified
        correctly and the attack either fails or needs a perturbation of L2
        norm greater than ``eps``; their adversarial example is the attack's
        point where that norm is at most ``eps``, and the clean input
        elsewhere. Also accepted: a torchattacks attack instance (run as
        constructed, on the model it was built with: build it on
        ``estimator.module_``), a callable ``attack(model, x, y) -> x_adv``
        (``model`` maps a batch to log-probabilities; ``y`` are class indices),
        a dict ``{{"attack": name, **overrides}}`` overriding ``alpha``,
        ``steps`` or ``norm`` for one attack, or a **list** of any of these:
        the per-point worst case (RobustBench's protocol), where a point is
        robust only if it is classified correctly and survives every attack,
        each attack running on the points still robust
        (:func:`adversarial_report` says which attack broke each point).
    eps : float or array-like of shape (n_samples,), default=0.3
        Radius of the threat model (0.3 for MNIST in the robust-AL paper), one
        for all or one per example (built-in attacks).
    alpha : float, default=0.01
        PGD step size.
    steps : int, default=50
        PGD steps (the paper evaluates with 50); DeepFool's most iterations.
    norm : {"inf", "2"} or None, default=None
        Threat-model norm; None means "2" for "deepfool" and "cw" (L2 attacks,
        which refuse "inf") and "inf" for the others; ``attack="pgd",
        norm="2"`` is PGD-L2.
    clip : "auto", tuple (low, high) or None, default="auto"
        Valid input range the adversarial examples stay in; "auto" takes the
        estimator's ``clip`` (a Pipeline's raw inputs: (0, 1)). ``X`` must lie
        inside it. torchattacks' attacks work in [0, 1] only.
    batch_size : int, default=256
        Examples attacked together.
    random_state : None, int or numpy Generator, default=None
        Seeds the random starts.
    verbose : int, default=1
        A progress bar over batches, drawn on a terminal only (as the fits'
        progress); 0 is silent."""


@fill_doc(params=_PARAMS)
def adversarial_accuracy(
    estimator: Any,
    X: ArrayLike,
    y: ArrayLike,
    *,
    attack: Any = "pgd",
    eps: float | ArrayLike = 0.3,
    alpha: float = 0.01,
    steps: int = 50,
    norm: str | None = None,
    clip: str | ClipRange = "auto",
    batch_size: int = 256,
    random_state: RandomStateLike = None,
    verbose: int = 1,
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
    for x_adv, t, model, _ in _attack_batches(
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
    attack: Any = "pgd",
    eps: float | ArrayLike = 0.3,
    alpha: float = 0.01,
    steps: int = 50,
    norm: str | None = None,
    clip: str | ClipRange = "auto",
    batch_size: int = 256,
    random_state: RandomStateLike = None,
    verbose: int = 1,
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
        for x_adv, _, _, _ in _attack_batches(
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


@fill_doc(params=_PARAMS)
def adversarial_report(
    estimator: Any,
    X: ArrayLike,
    y: ArrayLike,
    *,
    attack: Any = ("pgd", "fgsm"),
    eps: float | ArrayLike = 0.3,
    alpha: float = 0.01,
    steps: int = 50,
    norm: str | None = None,
    clip: str | ClipRange = "auto",
    batch_size: int = 256,
    random_state: RandomStateLike = None,
    verbose: int = 1,
) -> Bunch:
    """Which attack broke each point: the per-point worst case over a list of attacks.

    RobustBench's protocol: a point is robust when it is classified correctly
    and every attack fails on it; the attacks run in the order given, each on
    the points still robust (a cheap attack first spares the expensive ones).

    Parameters
    ----------
    {params}

    Returns
    -------
    report : Bunch
        ``accuracy`` (robust share), ``clean_accuracy``, ``robust`` (bool per
        point), ``broken_by`` (per point: ``"clean"`` if misclassified without
        attack, the label of the first attack that broke it, or ``""``),
        ``after`` (``{{label: robust share after that attack}}``, in order) and
        ``counts`` (``{{label: points it broke}}``, ``"clean"`` included).

    Examples
    --------
    >>> report = adversarial_report(clf, X, y, attack=["fgsm", "pgd", "cw"],
    ...                             eps=0.3)  # doctest: +SKIP
    >>> report.after  # doctest: +SKIP
    {{'fgsm': 0.81, 'pgd': 0.74, 'cw': 0.74}}
    """
    attacks = list(attack) if isinstance(attack, (list, tuple)) else [attack]
    parts = [
        broken
        for _, _, _, broken in _attack_batches(
            estimator,
            X,
            y,
            attacks,
            eps,
            alpha,
            steps,
            norm,
            clip,
            batch_size,
            random_state,
            verbose,
            "adversarial_report",
        )
    ]
    broken_by = np.concatenate(parts)
    labels = [label for label, _, _ in _specs(attacks, norm, alpha, steps)]
    counts = {"clean": int((broken_by == "clean").sum())}
    counts.update({label: int((broken_by == label).sum()) for label in labels})
    n = len(broken_by)
    after, remaining = {}, n - counts["clean"]
    for label in labels:
        remaining -= counts[label]
        after[label] = remaining / n
    robust = broken_by == ""
    return Bunch(
        accuracy=float(robust.mean()),
        clean_accuracy=1.0 - counts["clean"] / n,
        robust=robust,
        broken_by=broken_by,
        after=after,
        counts=counts,
    )


_ADVICE = (
    "Gradient attacks need the network; for other classifiers use a metric that needs only "
    "predict: rpr_score or corruption_accuracy."
)


def _is_torchattacks(obj: Any) -> bool:
    return any(
        c.__module__.split(".")[0] == "torchattacks" for c in type(obj).__mro__ if c is not object
    )


def _specs(attack, norm, alpha, steps):
    """The attacks to run: a list of ``(label, kind, params)``; everything checked here."""
    items = list(attack) if isinstance(attack, (list, tuple)) else [attack]
    if not items:
        raise ValueError("attack must not be an empty list.")
    specs = []
    names = set(BUILTIN_ATTACKS + TORCHATTACKS_ATTACKS)
    for item in items:
        overrides: dict[str, Any] = {}
        if isinstance(item, dict):
            overrides = dict(item)
            item = overrides.pop("attack", None)
            unknown = set(overrides) - {"alpha", "steps", "norm"}
            if not isinstance(item, str) or unknown:
                raise ValueError(
                    "an attack given as a dict needs 'attack': a name, and may override only "
                    f"'alpha', 'steps' and 'norm'; got {dict(attack=item, **overrides)!r}."
                )
        if isinstance(item, str):
            check_options(item, "attack", names)
            a_norm = overrides.get("norm", norm)
            if a_norm is None:
                a_norm = "2" if item in MINIMAL_L2_ATTACKS else "inf"
            check_options(a_norm, "norm", {"inf", "2"})
            if item in MINIMAL_L2_ATTACKS and a_norm != "2":
                raise ValueError(
                    f"attack={item!r} searches the smallest L2 perturbation: norm must be '2' "
                    f"(or None), got {a_norm!r}. Use attack='pgd' for an Linf threat model."
                )
            a_steps = overrides.get("steps", steps)
            check_number(a_steps, "steps", low=1, integer=True)
            a_alpha = overrides.get("alpha", alpha)
            check_number(a_alpha, "alpha", low=0.0, include_low=False)
            label = (
                item
                if not overrides
                else item + "(" + ", ".join(f"{k}={v}" for k, v in sorted(overrides.items())) + ")"
            )
            specs.append((label, item, dict(norm=a_norm, steps=a_steps, alpha=a_alpha)))
        elif _is_torchattacks(item):
            specs.append((type(item).__name__, "instance", {"attack": item}))
        elif callable(item):
            label = getattr(item, "__name__", type(item).__name__)
            specs.append((label, "callable", {"attack": item}))
        else:
            raise TypeError(
                "attack must be a name (" + ", ".join(sorted(names)) + "), a torchattacks "
                "attack, a callable attack(model, x, y) -> x_adv, a dict, or a list of them; "
                f"got {item!r}."
            )
    return specs


def _check_args(estimator, X, y, attack, eps, alpha, steps, norm, clip, batch_size, caller):
    """Validate everything before any work; return ``(net, X, codes, eps, specs, clip)``."""
    specs = _specs(attack, norm, alpha, steps)
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
    external = [label for label, kind, _ in specs if kind in TORCHATTACKS_ATTACKS]
    if external and np.ndim(eps):
        raise ValueError(f"attack={external[0]!r} takes one eps for all examples, got an array.")
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
    if any(kind == "cw" for _, kind, _ in specs) and clip is None:
        raise ValueError("attack='cw' works in a box: clip must be (low, high), got None.")
    outside_unit = X.min() < -1e-6 or X.max() > 1 + 1e-6
    if external and (clip not in (None, (0.0, 1.0)) or outside_unit):
        raise ValueError(
            f"attack={external[0]!r} comes from torchattacks, which keeps examples in [0, 1]: "
            f"X must lie in [0, 1] and clip must be (0, 1) or None, got X in "
            f"[{X.min():.3g}, {X.max():.3g}] and clip={clip!r}."
        )
    return net, X, codes, eps, specs, clip


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
    """Validate, then yield ``(x_adv, labels, model, broken_by)`` batch by batch, the module in
    eval mode. One attack: its examples for every point (``broken_by`` None). A list: the
    per-point worst case, each attack run on the points still robust, ``broken_by`` the
    label of the attack that broke each point ("clean" if misclassified, "" if robust)."""
    net, X, codes, eps, specs, clip = _check_args(
        estimator, X, y, attack, eps, alpha, steps, norm, clip, batch_size, caller
    )
    model = net.log_proba_module()
    seed = draw_seed(random_state)
    runners = [
        (label, _runner(kind, params, model, eps, clip, seed, net)) for label, kind, params in specs
    ]
    gen = torch.Generator(device=net.device).manual_seed(seed)
    single = not isinstance(attack, (list, tuple))
    desc = runners[0][0] if single else "attacks"
    with net.evaluating():
        for s in progress_bar(list(batches(len(X), batch_size)), desc=desc, verbose=verbose):
            x = torch.as_tensor(X[s], device=net.device)
            t = torch.as_tensor(codes[s], device=net.device)
            e = eps[s] if np.ndim(eps) else eps
            if single:
                yield runners[0][1](x, t, e, gen), t, model, None
                continue
            with torch.no_grad():
                robust = model(x).argmax(1) == t
            broken_by = np.where(robust.cpu().numpy(), "", "clean").astype(object)
            x_worst = x.clone()
            for label, run in runners:
                idx = torch.nonzero(robust).flatten()
                if idx.numel() == 0:
                    break
                e_sub = e[idx.cpu().numpy()] if np.ndim(e) else e
                x_adv = run(x[idx], t[idx], e_sub, gen)
                with torch.no_grad():
                    fooled = model(x_adv).argmax(1) != t[idx]
                hit = idx[fooled]
                x_worst[hit] = x_adv[fooled].to(x_worst.dtype)
                robust[hit] = False
                broken_by[hit.cpu().numpy()] = label
            yield x_worst, t, model, broken_by


def _runner(kind, params, model, eps, clip, seed, net):
    """``run(x, t, e, generator) -> x_adv`` for one attack spec."""
    if kind == "instance":
        atk = params["attack"]
        return lambda x, t, e, gen: atk(x, t).to(x.dtype)
    if kind == "callable":
        fn = params["attack"]

        def run_callable(x, t, e, gen):
            out = fn(model, x, t)
            if not isinstance(out, torch.Tensor) or out.shape != x.shape:
                raise ValueError(
                    f"the attack {getattr(fn, '__name__', fn)!r} must return a tensor of the "
                    f"input's shape {tuple(x.shape)}, got "
                    f"{getattr(out, 'shape', type(out).__name__)}."
                )
            return out.detach().to(device=x.device, dtype=x.dtype)

        return run_callable
    if kind in TORCHATTACKS_ATTACKS:
        atk = _torchattacks_runner(kind, model, eps, params["norm"], seed, net)
        return lambda x, t, e, gen: atk(x, t)
    norm, steps, alpha = params["norm"], params["steps"], params["alpha"]
    if kind == "pgd":
        return lambda x, t, e, gen: pgd(
            model, x, t, eps=e, alpha=alpha, steps=steps, norm=norm, clip=clip, random_state=gen
        )
    if kind == "deepfool":
        return lambda x, t, e, gen: _deepfool_within(model, x, t, e, steps, clip)
    if kind == "cw":
        return lambda x, t, e, gen: _cw_within(model, x, t, e, steps, clip)
    return lambda x, t, e, gen: fgsm(model, x, t, eps=e, clip=clip)


def _cw_within(model, x, t, eps, steps, clip):
    """Carlini-Wagner's example where it fools a correct prediction within L2 radius ``eps``;
    the clean input elsewhere."""
    x_cw, dist = carlini_wagner_l2(model, x, t, steps=steps, clip=clip)
    with torch.no_grad():
        correct = model(x).argmax(1) == t
    radius = torch.as_tensor(eps, dtype=dist.dtype, device=dist.device)
    hit = correct & (dist <= radius)
    return torch.where(hit.reshape((-1,) + (1,) * (x.ndim - 1)), x_cw, x)


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
    random_state : None, int or numpy Generator, default=0
        Seeds the attack's random start. The default 0, as for
        :class:`~robustsk.metrics.RPRScorer` and
        :class:`~robustsk.metrics.CorruptionScorer`, scores the same model the
        same on every call, so a ``GridSearchCV`` result is reproducible; None
        draws a fresh start each call.
    **attack_params
        Other :func:`adversarial_accuracy` arguments (``alpha``, ``steps``, ``norm``,
        ``clip``, ``batch_size``).

    Notes
    -----
    Inside ``cross_val_score`` and ``GridSearchCV`` a model the attack cannot
    go through (see :func:`adversarial_accuracy`) fails with the metric's own
    ``TypeError``: raised with ``error_score="raise"``, and in the
    "Scoring failed" warning, next to the NaN score, with scikit-learn's
    default ``error_score=np.nan``.
    """

    def __init__(
        self,
        attack: Any = "pgd",
        eps: float | ArrayLike = 0.3,
        *,
        random_state: RandomStateLike = 0,
        **attack_params: Any,
    ):
        self.attack = attack
        self.eps = eps
        self.random_state = random_state
        self.attack_params = attack_params

    def __call__(self, estimator: Any, X: ArrayLike, y: ArrayLike) -> float:
        return adversarial_accuracy(
            estimator,
            X,
            y,
            attack=self.attack,
            eps=self.eps,
            random_state=self.random_state,
            **self.attack_params,
        )

    def __repr__(self):
        extra = "".join(f", {k}={v!r}" for k, v in self.attack_params.items())
        return (
            f"AdversarialScorer(attack={self.attack!r}, eps={self.eps!r}, "
            f"random_state={self.random_state!r}{extra})"
        )
