"""Accuracy under adversarial attack, for robustsk estimators and skorch nets."""

from __future__ import annotations

from typing import Any
from numpy.typing import ArrayLike
from ..utils._types import RandomStateLike

import numpy as np
import torch
from tqdm.auto import tqdm

from ..attacks import fgsm, pgd
from ..query._base import batches
from ..query._torch_access import TorchClassifier
from ..utils import check_number, check_options, draw_seed

BUILTIN_ATTACKS = ("pgd", "fgsm")
TORCHATTACKS_ATTACKS = ("autoattack", "square")
_INSTALL = "pip install --no-deps torchattacks"


class _LogitModule(torch.nn.Module):
    """An nn.Module view of a fitted net: reshapes input, returns log-probabilities."""

    def __init__(self, net: TorchClassifier):
        super().__init__()
        self.net = net
        self.inner = net.module

    def forward(self, x):
        if self.net.input_shape is not None:
            x = x.reshape((x.shape[0],) + tuple(self.net.input_shape))
        return self.net.log_proba(self.inner(x))


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


def adversarial_accuracy(
    estimator: Any,
    X: ArrayLike,
    y: ArrayLike,
    *,
    attack: str = "pgd",
    eps: float | ArrayLike = 0.3,
    alpha: float = 0.01,
    steps: int = 50,
    norm: str = "inf",
    batch_size: int = 256,
    random_state: RandomStateLike = None,
    verbose: int = 0,
) -> float:
    """Accuracy on adversarial examples crafted against ``estimator``.

    Parameters
    ----------
    estimator : fitted robustsk estimator or skorch net
        Gradient attacks need the torch module.
    X : array-like of shape (n_samples, ...)
        Clean inputs in [0, 1].
    y : array-like of shape (n_samples,)
        True labels.
    attack : {"pgd", "fgsm", "autoattack", "square"}, default="pgd"
        "pgd" and "fgsm" are built in; "autoattack" (standard version) and
        "square" come from torchattacks when it is installed.
    eps : float, default=0.3
        Radius of the threat model (0.3 for MNIST in the robust-AL paper).
    alpha : float, default=0.01
        PGD step size.
    steps : int, default=50
        PGD steps (the paper evaluates with 50).
    norm : {"inf", "2"}, default="inf"
        Threat-model norm.
    batch_size : int, default=256
        Examples attacked together.
    random_state : None, int or numpy Generator, default=None
        Seeds the random starts.
    verbose : int, default=0
        Show a progress bar over batches.

    Returns
    -------
    accuracy : float
        Share of examples still classified correctly after the attack.

    Raises
    ------
    ImportError
        For "autoattack" or "square" without torchattacks, with the install line.
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
        batch_size,
        random_state,
        verbose,
        "adversarial_accuracy",
    ):
        with torch.no_grad():
            correct += int((model(x_adv).argmax(1) == t).sum())
    return correct / len(np.asarray(X))


def adversarial_examples(
    estimator: Any,
    X: ArrayLike,
    y: ArrayLike,
    *,
    attack: str = "pgd",
    eps: float | ArrayLike = 0.3,
    alpha: float = 0.01,
    steps: int = 50,
    norm: str = "inf",
    batch_size: int = 256,
    random_state: RandomStateLike = None,
    verbose: int = 0,
) -> np.ndarray:
    """Adversarial examples of ``X`` against ``estimator``, crafted batch by batch.

    Parameters are those of :func:`adversarial_accuracy`.

    Parameters
    ----------
    estimator : fitted robustsk estimator or skorch net
    X : array-like of shape (n_samples, ...)
        Clean inputs.
    y : array-like of shape (n_samples,)
        True labels.
    attack : {"pgd", "fgsm", "autoattack", "square"}, default="pgd"
        The attack.
    eps : float, default=0.3
        Radius.
    alpha : float, default=0.01
        PGD step size.
    steps : int, default=50
        PGD steps.
    norm : {"inf", "2"}, default="inf"
        Threat-model norm.
    batch_size : int, default=256
        Examples attacked together.
    random_state : None, int or numpy Generator, default=None
        Seeds the random starts.
    verbose : int, default=0
        Show a progress bar over batches.

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
            batch_size,
            random_state,
            verbose,
            "adversarial_examples",
        )
    ]
    return np.concatenate(parts).reshape(X.shape)


def _attack_batches(
    estimator, X, y, attack, eps, alpha, steps, norm, batch_size, random_state, verbose, caller
):
    """Validate, then yield ``(x_adv, labels, model)`` batch by batch, the module in eval mode."""
    check_options(attack, "attack", set(BUILTIN_ATTACKS + TORCHATTACKS_ATTACKS))
    check_options(norm, "norm", {"inf", "2"})
    check_number(eps, "eps", low=0.0)
    check_number(steps, "steps", low=1, integer=True)
    check_number(batch_size, "batch_size", low=1, integer=True)
    X = np.asarray(X, dtype=np.float32)
    codes = encode_labels(estimator, y)
    if len(X) != len(codes):
        raise ValueError(f"X and y have {len(X)} and {len(codes)} rows.")
    net = TorchClassifier(estimator, caller)
    model = _LogitModule(net)
    seed = draw_seed(random_state)
    runner = (
        _torchattacks_runner(attack, model, eps, norm, seed, net)
        if attack in TORCHATTACKS_ATTACKS
        else None
    )
    clip = getattr(estimator, "clip", (0.0, 1.0))
    gen = torch.Generator(device=net.device).manual_seed(seed)
    with net.evaluating():
        for s in tqdm(list(batches(len(X), batch_size)), desc=attack, disable=not verbose):
            x = torch.as_tensor(X[s], device=net.device)
            t = torch.as_tensor(codes[s], device=net.device)
            if runner is not None:
                x_adv = runner(x, t)
            elif attack == "pgd":
                x_adv = pgd(
                    model,
                    x,
                    t,
                    eps=eps,
                    alpha=alpha,
                    steps=steps,
                    norm=norm,
                    clip=clip,
                    random_state=gen,
                )
            else:
                x_adv = fgsm(model, x, t, eps=eps, clip=clip)
            yield x_adv, t, model


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
    attack : str, default="pgd"
        As in :func:`adversarial_accuracy`.
    eps : float, default=0.3
        Radius.
    **attack_params
        Other :func:`adversarial_accuracy` arguments (``alpha``, ``steps``, ``norm``,
        ``batch_size``, ``random_state``).
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
