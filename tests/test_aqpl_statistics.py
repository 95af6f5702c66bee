"""AQPL's selection against random selection: a paired, seeded statistical test.

A statistical claim must hold on any machine and package set, where the same
seed can train a slightly different net (BLAS kernels, thread counts and CPU
instruction sets change the order of floating-point sums). So the test pairs
the two strategies on each seed (same data, same initial levels, same oracle,
same net seed), uses twelve seeds, asserts on means with a margin of about
three standard errors of the measured paired spread, and asserts per seed only
on the selection itself, where the effect is many binomial standard deviations
wide.
"""

import numpy as np
import pytest
import torch

from robustsk.active import CallableOracle, PerturbationLevelLearner
from robustsk.estimators import NoiseTrainedClassifier
from robustsk.perturb import GaussianNoise
from robustsk.query import noise_entropy, random_sampling

N_SEEDS = 12
FIT = dict(max_epochs=10, lr=1e-2, batch_size=32, verbose=0)


@pytest.fixture
def one_thread():
    """Fewer sources of cross-machine drift: one intra-op thread for this test."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_aqpl_beats_random_selection_when_levels_are_wrong_for_a_subset(digits, one_thread):
    """A seeded setting with a large effect, paired over twelve seeds.

    The training levels came from a pipeline that left two classes without
    noise (level 0, where the annotator says 0.5) and gave 10% faint scans the
    default 0.5 (unrecognisable; the annotator says 0.05). AQPL's two sides
    find exactly these examples (the faint ones have the highest entropy, the
    unaugmented ones the lowest); random selection finds them at their base
    rate (0.28). After the same 280 queries AQPL is more accurate under
    Gaussian noise, most of all on the affected test images (classes 3 and 8
    and the faint scans).

    Measured (numpy 2.4, scikit-learn 1.9, skorch 1.4, torch 2.13 CPU; 12 seeds):
    share of queries that hit a wrong level, AQPL 0.925-0.979, random
    0.236-0.321. Paired accuracy gain under Gaussian(0.3), AQPL minus random:
    all test images mean +3.2 points (one thread; +3.3 with two), sd 1.1,
    range +1.1 to +5.0, standard error 0.33; affected test images mean +11.5
    points, sd 6.0, range -1.9 to +21.9, standard error 1.7. An earlier version
    of the learner that drew its random stream differently gave a mean of +3.0
    with sd 2.2 and single seeds from -0.2 to +6.2: one seed's number moves by
    points with the stream, so the accuracy assertions are on the means, with
    margins of about three standard errors of the wider spread.
    """
    X_train, X_test, y_train, y_test = digits
    rng = np.random.default_rng(0)
    faint_train = rng.random(len(y_train)) < 0.1
    faint_test = rng.random(len(y_test)) < 0.1
    X_train, X_test = X_train.copy(), X_test.copy()
    X_train[faint_train] *= 0.15
    X_test[faint_test] *= 0.15
    unaugmented = np.isin(y_train, [3, 8]) & ~faint_train
    truth = np.where(faint_train, 0.05, 0.5)
    initial = np.where(unaugmented, 0.0, 0.5)
    wrong = faint_train | unaugmented  # 377 of 1,347 examples
    affected = np.isin(y_test, [3, 8]) | faint_test
    oracle = CallableOracle(lambda q: round(float(truth[q.query_id]), 2))
    noisy_tests = [GaussianNoise(0.3, random_state=k)(X_test) for k in range(3)]

    def run(strategy, seed):
        learner = (
            PerturbationLevelLearner(
                oracle,
                NoiseTrainedClassifier(**FIT, random_state=seed),
                query_strategy=strategy,
                n_per_side=70,
                n_draws=20,
                max_rounds=2,
                random_state=seed,
            )
            .fit(X_train, y_train, sample_sigma=initial)
            .run()
        )
        correct = np.array([learner.estimator_.predict(Xn) == y_test for Xn in noisy_tests])
        hits = (learner.answered_ & wrong).sum() / learner.answered_.sum()
        return correct.mean(), correct[:, affected].mean(), hits

    gain_all, gain_affected = [], []
    for seed in range(N_SEEDS):
        aqpl_all, aqpl_affected, aqpl_hits = run(noise_entropy, seed)
        random_all, random_affected, random_hits = run(random_sampling, seed)
        # The selection itself, per seed: binomial sd of the random rate is 0.027.
        assert aqpl_hits > 0.9, (seed, aqpl_hits)
        assert random_hits < 0.4, (seed, random_hits)
        gain_all.append(aqpl_all - random_all)
        gain_affected.append(aqpl_affected - random_affected)
    gain_all, gain_affected = np.array(gain_all), np.array(gain_affected)
    summary = f"gains: all {gain_all.round(3)}, affected {gain_affected.round(3)}"
    assert gain_all.mean() > 0.010, summary  # measured mean +0.032 (sd 0.011 to 0.022)
    assert gain_affected.mean() > 0.045, summary  # measured mean +0.115 (sd 0.060 to 0.074)
