"""Sample-count guidance of the sampled bias: covering-radius estimates, margin=, the
convergence record."""
import numpy as np
import pytest

import reluinj
from reluinj.testing import sphere_samples


def test_authors_reference_values():
    assert reluinj.sampling_error(2000, 3, rule="authors") == pytest.approx(0.2616327454340566,
                                                                            rel=1e-12)
    assert reluinj.samples_needed(0.25, 3, rule="authors") == 2340


def test_sound_rule_circle_closed_form_and_exponent():
    # On the circle (n = 2) the cap fraction of angular radius θ is θ/π: θ = π log N / N.
    N = 10_000
    theta = np.pi * np.log(N) / N
    assert reluinj.sampling_error(N, 2) == pytest.approx(2 * np.sin(theta / 2), rel=1e-9)
    # Exponent 1/(n-1): eps(N) ~ (log N / N)^(1/(n-1)) for large N.
    for n in (3, 5):
        e1, e2 = reluinj.sampling_error(10 ** 6, n), reluinj.sampling_error(10 ** 8, n)
        expect = ((np.log(1e8) / 1e8) / (np.log(1e6) / 1e6)) ** (1 / (n - 1))
        assert e2 / e1 == pytest.approx(expect, rel=0.02)


def test_sound_rule_matches_the_empirical_covering_radius_order():
    # Independent oracle: the covering radius of N uniform points on S^2, measured by dense
    # probing (max over probes of the distance to the nearest sample).
    N = 2000
    X = sphere_samples(N, 3, seed=0)
    P = sphere_samples(20_000, 3, seed=1)
    rho = np.sqrt(np.max(2 - 2 * np.max(P @ X.T, axis=1)))
    est = reluinj.sampling_error(N, 3)
    assert 0.5 * rho < est < 2 * rho


def test_samples_needed_is_the_smallest_n():
    for n, eps in ((3, 0.1), (4, 0.3)):
        N = reluinj.samples_needed(eps, n)
        assert reluinj.sampling_error(N, n) <= eps < reluinj.sampling_error(N - 1, n)


def test_sampled_bias_margin_and_convergence_record():
    W = reluinj.icosahedron()
    est = reluinj.sampled_bias(W, n_samples=20_000, seed=0, batch_size=3000)
    assert est.sampling_error == pytest.approx(reluinj.sampling_error(20_000, 3))
    np.testing.assert_array_equal(est.convergence_n, [625, 1250, 2500, 5000, 10_000, 20_000])
    ca = est.convergence_alpha
    assert ca.shape == (6, 12)
    assert np.all(np.diff(ca, axis=0) <= 0)  # monotone from above
    np.testing.assert_array_equal(ca[-1], est.alpha_normalized)
    # Oracle: the approach-A minimum over the same samples, given as data (data_bias), for
    # every prefix of N/32, ..., N samples.
    from reluinj.frames._sampled import draw_batch, seed_sequence
    seq = seed_sequence(0)
    X = np.vstack([draw_batch(reluinj.Sphere(), 3, seq, b, 3000, 20_000) for b in range(7)])
    for k, row in zip(est.convergence_n, ca):
        np.testing.assert_array_equal(row, reluinj.data_bias(W, X[:k]).alpha_normalized)
    # Every estimate is above the exact 1/sqrt(5) (icosahedron), and the error is within
    # the covering estimate of its N.
    exact = 5 ** -0.5
    for k, row in zip(est.convergence_n, ca):
        assert np.all(row >= exact - 1e-12)
        assert np.all(row - exact <= reluinj.sampling_error(int(k), 3))
    low = reluinj.sampled_bias(W, n_samples=20_000, seed=0, batch_size=3000, margin="covering")
    np.testing.assert_allclose(low.alpha, est.alpha - est.sampling_error, rtol=1e-12)
    assert low.margin == est.sampling_error
    assert np.all(low.alpha <= exact)  # the margin made this estimate safe here
    with pytest.raises(ValueError, match="margin"):
        reluinj.sampled_bias(W, n_samples=100, margin="big")
    with pytest.raises(ValueError, match="margin"):
        reluinj.sampled_bias(W, n_samples=100, margin=-1.0)


def test_bad_input():
    with pytest.raises(ValueError, match="rule"):
        reluinj.sampling_error(100, 3, rule="x")
    with pytest.raises(ValueError, match="n"):
        reluinj.sampling_error(100, 1)
    with pytest.raises(ValueError, match="eps"):
        reluinj.samples_needed(0.0, 3)
