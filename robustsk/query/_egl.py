"""EGL: expected gradient length, with per-example gradients computed in one vectorized pass."""

from __future__ import annotations

import numpy as np
import torch
from torch.func import functional_call, jacrev, vmap

from ..utils import check_number
from ._base import batches, check_query, select_top
from ._torch_access import TorchClassifier


def egl_scores(classifier, X_pool, *, batch_size=64) -> np.ndarray:
    """``sum_c p_c ||grad_theta L(x, c)||`` for every pool example (Eq. 11).

    The gradient of the cross-entropy for label ``c`` is minus the gradient
    of ``log p_c``, so one Jacobian of the log-probabilities with respect to
    all parameters (``C`` vector-Jacobian products per example, vectorized
    with :func:`torch.func.vmap`) gives the gradients for every label at once.

    Parameters
    ----------
    classifier : fitted robustsk estimator or skorch net
    X_pool : array-like of shape (n_pool, ...)
        Examples to score.
    batch_size : int, default=64
        Examples per vectorized Jacobian.

    Returns
    -------
    scores : ndarray of shape (n_pool,)
    """
    net = TorchClassifier(classifier, "egl")
    module = net.module
    was_training = module.training
    module.eval()
    params = {k: v.detach() for k, v in module.named_parameters() if v.requires_grad}
    buffers = {k: v.detach() for k, v in module.named_buffers()}

    def log_proba_one(p, x):  # x: one example -> (C,)
        out = functional_call(module, (p, buffers), (x.unsqueeze(0),))
        return net.log_proba(out)[0]

    jac_fn = vmap(jacrev(log_proba_one), in_dims=(None, 0))
    scores = np.empty(X_pool.shape[0])
    try:
        for s in batches(X_pool.shape[0], batch_size):
            x = net.tensor(X_pool[s])
            jac = jac_fn(params, x)  # {name: (b, C, *param_shape)}
            sq = sum(j.flatten(2).pow(2).sum(dim=2) for j in jac.values())  # (b, C)
            with torch.no_grad():
                proba = net.log_proba(module(x)).exp()  # (b, C)
            scores[s] = (proba * sq.sqrt()).sum(dim=1).double().cpu().numpy()
    finally:
        module.train(was_training)
    return scores


def egl(classifier, X_pool, n_instances=1, *, random_state=None, batch_size=64):
    """Select the examples whose expected gradient length is largest (EGL).

    Parameters
    ----------
    classifier : fitted robustsk estimator or skorch net (or a learner wrapping one)
    X_pool : array-like of shape (n_pool, ...)
        Candidates.
    n_instances : int, default=1
        How many to select, in ``[1, n_pool]``.
    random_state : None, int or numpy Generator, default=None
        Breaks ties.
    batch_size : int, default=64
        Examples per vectorized Jacobian (memory grows with batch x classes x
        parameters).

    Returns
    -------
    indices : ndarray of shape (n_instances,)
    scores : ndarray of shape (n_instances,)
        Expected gradient lengths.
    """
    estimator, X_pool, rng = check_query(classifier, X_pool, n_instances, random_state,
                                         name="egl")
    check_number(batch_size, "batch_size", low=1, integer=True)
    return select_top(egl_scores(estimator, X_pool, batch_size=batch_size), n_instances, rng)
