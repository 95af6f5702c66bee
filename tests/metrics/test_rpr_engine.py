"""RPR's batched engine against the sequential algorithm: sizes, backends, streams, progress."""

import numpy as np
import pytest
import torch
from scipy import stats

from robustsk.metrics import rpr_steps
from robustsk.metrics._rpr_engine import block_size
from robustsk.perturb import GaussianNoise, RandomPixels


def sequential_rpr(estimator, X, y, perturbation, max_steps, seed):
    """The paper's algorithm, one point and one draw at a time (the reference)."""
    gen = torch.Generator().manual_seed(seed)
    steps = np.zeros(len(X), dtype=np.int64)
    for i in range(len(X)):
        x = X[i : i + 1]
        if estimator.predict(x)[0] != y[i]:
            continue
        while steps[i] < max_steps:
            steps[i] += 1  # draws taken, the misclassified one included
            if estimator.predict(perturbation(x, random_state=gen))[0] != y[i]:
                break
    return steps


def test_batched_engine_agrees_with_the_sequential_algorithm(logreg, flat_digits):
    _, X_test, _, y_test = flat_digits
    X = np.repeat(X_test[:120], 3, axis=0)  # three runs of every point
    y = np.repeat(y_test[:120], 3)
    scheme = RandomPixels(4)
    max_steps = 40
    batched = rpr_steps(logreg, X, y, perturbation=scheme, max_steps=max_steps, random_state=0)
    sequential = sequential_rpr(logreg, X, y, scheme, max_steps, seed=1)
    assert abs(np.mean(batched == max_steps) - np.mean(sequential == max_steps)) < 0.06
    assert abs(batched.mean() - sequential.mean()) < 0.1 * max_steps
    assert stats.ks_2samp(batched, sequential).pvalue > 0.01
    # misclassified points get 0 in both
    wrong = logreg.predict(X) != y
    assert (batched[wrong] == 0).all() and (sequential[wrong] == 0).all()


@pytest.mark.parametrize("batch_size, chunk_size", [(7, 5), (64, None), (5000, 30)])
def test_engine_sizes_change_the_draws_not_the_law(logreg, flat_digits, batch_size, chunk_size):
    _, X_test, _, y_test = flat_digits
    X, y = np.repeat(X_test[:100], 3, axis=0), np.repeat(y_test[:100], 3)
    reference = rpr_steps(logreg, X, y, perturbation=RandomPixels(4), max_steps=40, random_state=0)
    steps = rpr_steps(
        logreg,
        X,
        y,
        perturbation=RandomPixels(4),
        max_steps=40,
        random_state=1,
        batch_size=batch_size,
        chunk_size=chunk_size,
    )
    assert abs(np.mean(steps == 40) - np.mean(reference == 40)) < 0.07
    assert stats.ks_2samp(steps, reference).pvalue > 0.01


def test_block_sizes_ramp_up_and_respect_the_cap():
    assert block_size(1000, 0, 512, 250) == 1  # more points than rows: one draw each
    assert block_size(10, 0, 512, 250) == 1  # the first draws are one at a time
    assert block_size(10, 8, 512, 250) == 8  # then at most double
    assert block_size(10, 200, 512, 250) == 50  # never past max_steps
    assert block_size(100, 64, 512, 250) == 5  # and within one batch


def test_torch_path_equals_predict_path_and_is_reproducible(tiny_net, digits):
    _, X_test, _, y_test = digits
    X_test, y_test = X_test[:150], y_test[:150]
    kw = dict(perturbation=RandomPixels(4), max_steps=20, random_state=3, batch_size=256)
    tiny_net.module_.train()
    fast = rpr_steps(tiny_net, X_test, y_test, backend="torch", **kw)
    assert tiny_net.module_.training  # evaluated in eval mode, the mode restored after
    slow = rpr_steps(tiny_net, X_test, y_test, backend="predict", **kw)
    # same CPU generator, same draws, same argmax: identical step counts
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_array_equal(fast, rpr_steps(tiny_net, X_test, y_test, **kw))
    # flat input to an image-trained net, and a tensor
    flat = rpr_steps(tiny_net, X_test.reshape(len(X_test), -1), y_test, **kw)
    np.testing.assert_array_equal(fast, flat)
    np.testing.assert_array_equal(fast, rpr_steps(tiny_net, torch.from_numpy(X_test), y_test, **kw))


def test_plain_skorch_net_takes_the_torch_path(flat_digits):
    from skorch import NeuralNetClassifier

    X, X_test, y, y_test = flat_digits
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    net = NeuralNetClassifier(
        module,
        criterion=torch.nn.CrossEntropyLoss,
        max_epochs=2,
        lr=0.1,
        train_split=None,
        verbose=0,
    ).fit(X, y)
    kw = dict(perturbation=RandomPixels(4), max_steps=10, random_state=0, batch_size=256)
    fast = rpr_steps(net, X_test[:100], y_test[:100], **kw)
    np.testing.assert_array_equal(
        fast, rpr_steps(net, X_test[:100], y_test[:100], backend="predict", **kw)
    )


def test_perturbation_stream_and_other_schemes(logreg, flat_digits):
    _, X_test, _, y_test = flat_digits
    X, y = X_test[:80], y_test[:80]
    a = rpr_steps(logreg, X, y, perturbation=RandomPixels(4, random_state=5), max_steps=20)
    b = rpr_steps(logreg, X, y, perturbation=RandomPixels(4, random_state=5), max_steps=20)
    np.testing.assert_array_equal(a, b)  # random_state=None: the perturbation's own seed
    gauss = rpr_steps(logreg, X, y, perturbation=GaussianNoise(0.3), max_steps=20, random_state=0)
    assert gauss.shape == (80,)

    def salt(X, random_state=None):  # any numpy callable
        rng = np.random.default_rng(random_state)
        return np.where(rng.random(X.shape) < 0.05, 1.0, X)

    s1 = rpr_steps(logreg, X, y, perturbation=salt, max_steps=20, random_state=0)
    s2 = rpr_steps(logreg, X, y, perturbation=salt, max_steps=20, random_state=0)
    np.testing.assert_array_equal(s1, s2)
    assert 0 < np.mean(s1 == 20) < 1


def test_progress_bar_only_when_verbose(logreg, flat_digits, capsys, monkeypatch):
    _, X_test, _, y_test = flat_digits
    monkeypatch.setattr("robustsk.utils._progress.is_interactive", lambda stream: True)
    rpr_steps(logreg, X_test[:20], y_test[:20], max_steps=5, random_state=0, verbose=0)
    assert "rpr" not in capsys.readouterr().err
    rpr_steps(logreg, X_test[:20], y_test[:20], max_steps=5, random_state=0, verbose=1)
    assert "20/20" in capsys.readouterr().err
