import numpy as np
import pytest
import torch
from scipy import stats

from robustsk.perturb import (
    RandomPixels,
)
from robustsk.perturb._random_pixels import _last_draw_index


@pytest.fixture
def images():
    return np.random.default_rng(0).random((6, 1, 8, 8)).astype(np.float32)


def test_random_pixels_changes_at_most_k_pixels(images):
    out = RandomPixels(k=5, random_state=0)(images)
    changed = (out != images).reshape(len(images), -1).sum(axis=1)
    assert (changed <= 5).all() and (changed >= 1).all()
    assert out.min() >= 0 and out.max() <= 1


def test_random_pixels_default_k_is_sqrt_of_pixels():
    assert RandomPixels().pixels_per_image(784) == 28
    assert RandomPixels().pixels_per_image(64) == 8
    with pytest.warns(FutureWarning, match="renamed pixels_per_image"):
        assert RandomPixels().n_draws(784) == 28
    X = np.zeros((50, 1, 28, 28), dtype=np.float32)
    changed = (RandomPixels(random_state=0)(X) != 0).reshape(50, -1).sum(axis=1)
    assert changed.max() <= 28 and changed.mean() > 20  # up to 28, few collisions


def test_random_pixels_rgb_pixel_is_a_location():
    X = np.zeros((20, 3, 8, 8), dtype=np.float32)
    out = RandomPixels(k=3, random_state=0)(X)
    locations = (out != 0).any(axis=1).reshape(20, -1).sum(axis=1)
    assert (locations <= 3).all()


def test_random_pixels_bad_k():
    with pytest.raises(ValueError, match="k must be in"):
        RandomPixels(k=0)(np.zeros((2, 4)))
    with pytest.raises(TypeError, match="k must be an int"):
        RandomPixels(k=2.5)(np.zeros((2, 4)))


# ------------------------------------------------- RandomPixels: value and replace
def _old_random_pixels(x, k, seed):
    """The scheme before ``value`` and ``replace`` existed, kept as the reference stream."""
    gen = torch.Generator().manual_seed(seed)
    n = x.shape[0]
    flat = x.reshape(n, x.shape[1], -1).clone() if x.ndim >= 3 else x.reshape(n, 1, -1).clone()
    c, p = flat.shape[1], flat.shape[2]
    pos = torch.randint(p, (n, 1, k), generator=gen).expand(n, c, k)
    vals = torch.rand((n, c, k), generator=gen, dtype=x.dtype)
    return flat.scatter_(2, pos, vals).reshape(x.shape)


def _locations(out, X):
    """Boolean (n, p) mask of the locations where any channel changed, and the flat views."""
    n = len(X)
    a = np.asarray(out).reshape(n, X.shape[1], -1) if X.ndim >= 3 else np.asarray(out)[:, None]
    b = X.reshape(n, X.shape[1], -1) if X.ndim >= 3 else X[:, None]
    return (a != b).any(axis=1), a, b


@pytest.fixture
def mid_images():
    # values in (0.1, 0.9) away from 0.5: every scheme visibly changes every chosen pixel
    x = np.random.default_rng(0).uniform(0.1, 0.4, (40, 3, 6, 6)).astype(np.float32)
    return x + (np.random.default_rng(1).random(x.shape) < 0.5) * np.float32(0.5)


def test_random_pixels_default_stream_is_unchanged():
    X = np.random.default_rng(0).random((30, 2, 7, 7)).astype(np.float32)
    expected = _old_random_pixels(torch.from_numpy(X), 9, seed=4).numpy()
    np.testing.assert_array_equal(RandomPixels(9, random_state=4)(X), expected)
    explicit = RandomPixels(9, value="uniform", replace=True, random_state=4)(X)
    np.testing.assert_array_equal(explicit, expected)
    flat = torch.rand(20, 30, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.equal(RandomPixels(40)(flat, random_state=2), _old_random_pixels(flat, 40, 2))


@pytest.mark.parametrize("value", RandomPixels.VALUES)
@pytest.mark.parametrize("replace", [True, False])
@pytest.mark.parametrize("as_torch", [False, True])
def test_random_pixels_changes_at_most_k_locations_as_the_value_says(
    mid_images, value, replace, as_torch
):
    X, k = mid_images, 7
    scheme = RandomPixels(k, value=value, replace=replace, random_state=0)
    out = scheme(torch.from_numpy(X) if as_torch else X)
    assert isinstance(out, torch.Tensor) == as_torch
    out = out.numpy() if as_torch else out
    assert out.shape == X.shape and out.dtype == X.dtype
    changed, a, b = _locations(out, X)
    n_changed = changed.sum(axis=1)
    if replace:
        assert (n_changed <= k).all() and (n_changed >= 1).all() and (n_changed < k).any()
    else:
        assert (n_changed == k).all()  # exactly k distinct pixels
    mask = np.broadcast_to(changed[:, None], a.shape)
    assert ((a != b) == mask).all()  # every channel of a chosen location changes, no other
    new = a[mask]
    if value == "uniform":
        assert new.min() >= 0 and new.max() <= 1
    elif value == "salt_and_pepper":
        assert set(np.unique(new).tolist()) == {0.0, 1.0}
        assert (a.min(axis=1) == a.max(axis=1))[changed].all()  # all channels alike
    elif value == "invert":
        np.testing.assert_allclose(new, 1.0 - b[mask], atol=1e-6)
    else:
        assert (new == (1.0 if value == "white" else 0.0)).all()


@pytest.mark.parametrize("value", ["salt_and_pepper", "invert", "white", "black"])
def test_random_pixels_values_follow_a_custom_range(value):
    X = np.random.default_rng(0).uniform(-0.9, 1.9, (20, 40)).astype(np.float32)
    out = RandomPixels(5, value=value, clip=(-1.0, 2.0), random_state=0)(X)
    changed = out != X
    assert (changed.sum(axis=1) <= 5).all() and changed.any(axis=1).all()
    new = out[changed]
    expected = {
        "salt_and_pepper": lambda: set(np.unique(new).tolist()) == {-1.0, 2.0},
        "invert": lambda: np.allclose(new, 1.0 - X[changed], atol=1e-6),
        "white": lambda: (new == 2.0).all(),
        "black": lambda: (new == -1.0).all(),
    }[value]
    assert expected()


@pytest.mark.parametrize("value", RandomPixels.VALUES)
@pytest.mark.parametrize("replace", [True, False])
def test_random_pixels_schemes_are_seeded(value, replace):
    X = np.random.default_rng(0).random((10, 1, 8, 8)).astype(np.float32)
    a = RandomPixels(6, value=value, replace=replace, random_state=3)
    b = RandomPixels(6, value=value, replace=replace, random_state=3)
    first = a(X)
    np.testing.assert_array_equal(first, b(X))  # same seed, same stream
    assert not np.array_equal(first, a(X))  # the stream advances
    np.testing.assert_array_equal(a(X, random_state=7), b(X, random_state=7))
    t = torch.from_numpy(X.copy())
    np.testing.assert_array_equal(a(t, random_state=7).numpy(), a(X, random_state=7))
    assert torch.equal(t, torch.from_numpy(X))  # input untouched


def test_random_pixels_without_replacement_draws_every_subset_alike():
    X = np.zeros((4000, 6), dtype=np.float32)
    out = RandomPixels(2, value="white", replace=False, random_state=0)(X)
    assert ((out == 1).sum(axis=1) == 2).all()
    counts = (out == 1).sum(axis=0)  # each feature is chosen with probability 2/6
    assert stats.chisquare(counts).pvalue > 1e-3


def test_last_draw_index_makes_repeats_order_free():
    gen = torch.Generator().manual_seed(0)
    n, c, p, k = 500, 2, 5, 8  # many repeats
    pos = torch.randint(p, (n, 1, k), generator=gen)
    vals = torch.rand((n, c, k), generator=gen)
    last = _last_draw_index(pos, p)
    brute = torch.tensor(
        [[max(j2 for j2 in range(k) if row[j2] == row[j]) for j in range(k)] for row in pos[:, 0]]
    )
    assert torch.equal(last[:, 0], brute)
    resolved = vals.gather(2, last.expand(n, c, k))
    forward = torch.zeros(n, c, p).scatter_(2, pos.expand(n, c, k), vals)  # in-order writes
    backward = torch.zeros(n, c, p).scatter_(
        2, pos.flip(2).expand(n, c, k), resolved.flip(2)
    )  # reversed writes of the resolved values: the same images
    assert torch.equal(forward, backward)


@pytest.mark.gpu
@pytest.mark.parametrize("value", RandomPixels.VALUES)
def test_random_pixels_on_cuda_is_seeded_and_at_most_k(value):
    x = torch.rand(64, 3, 8, 8, device="cuda")
    a = RandomPixels(20, value=value, random_state=0)(x, random_state=5)
    b = RandomPixels(20, value=value, random_state=0)(x, random_state=5)
    assert a.device == x.device and torch.equal(a, b)
    assert ((a != x).any(dim=1).flatten(1).sum(1) <= 20).all()


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"value": "gaussian"}, ValueError, r"value must be one of \['uniform'.*got 'gaussian'"),
        ({"value": None}, ValueError, "value must be one of"),
        ({"value": ["invert"]}, ValueError, "value must be one of"),
        ({"replace": "no"}, TypeError, "replace must be a bool"),
        ({"k": 65, "replace": False}, ValueError, r"k must be at most the number of pixels \(64\)"),
    ],
)
def test_random_pixels_bad_value_and_replace(params, error, match):
    X = np.zeros((2, 1, 8, 8), dtype=np.float32)
    scheme = RandomPixels(**{"k": 3, **params}, random_state=0)
    with pytest.raises(error, match=match):
        scheme(X)
    scheme.k, scheme.value, scheme.replace = 3, "uniform", True
    np.testing.assert_array_equal(scheme(X), RandomPixels(3, random_state=0)(X))  # no draw taken
