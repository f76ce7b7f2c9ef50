"""The report printed by ``reluinj demo``: a short guided tour in plain words.

A layer, the largest bias at which it is injective on the unit sphere (the proof and the
estimate), the input recovered from the output, what goes wrong past the limit, then the same
question for BW-ReLU features and a convolution layer. Every number comes with one line of what
it means. Each section is a function ``section(out, rng)``; they run in the order of
:data:`SECTIONS` and share the layer of :func:`demo_layer`.
"""
import numpy as np

from .. import (ReLULayer, icosahedron, injectivity_radius, polytope_bias, random_frame, relu_inverse,
                 sampled_bias)
from ..testing import sphere_samples

__all__ = ["run_demo", "SECTIONS", "demo_layer"]

N_SPHERE = 100_000       # random unit vectors used to check a claim
N_BIAS = 200_000         # samples of the sampled bias estimate
N_RECONSTRUCT = 10_000   # inputs recovered from their outputs
TOO_LARGE_BIAS = 0.6     # above 1/sqrt(5) = 0.447, the largest safe bias of the icosahedron


def demo_layer():
    """The demo's layer: 12 neurons in R^3 whose weight rows are the icosahedron's vertices."""
    return icosahedron()


def _say(out, text, indent=2):
    print(" " * indent + text, file=out)


def _section_layer(out, rng):
    W = demo_layer()
    m, n = W.shape
    print("1. A layer", file=out)
    _say(out, f"y = ReLU(W x - alpha) with W of shape ({m}, {n}): {m} neurons looking at inputs x "
         f"in R^{n};")
    _say(out, "the rows of W are the 12 vertices of an icosahedron. Question: up to which bias "
         "alpha can")
    _say(out, "every input x on the unit sphere be recovered from the output y?")
    X = sphere_samples(N_SPHERE, n, seed=rng)
    rate = ReLULayer(W, 0.0).injectivity_rate(X)
    _say(out, f"At bias 0: {100 * rate:.2f}% of {N_SPHERE:,} random unit inputs keep enough "
         f"active neurons (rows spanning R^{n})")
    _say(out, "to be recovered.")


def _section_polytope_bias(out, rng):
    W = demo_layer()
    est = polytope_bias(W)
    X = sphere_samples(N_SPHERE, W.shape[1], seed=rng)
    rate = est.certify(X).mean()
    print("2. The proof: reluinj.polytope_bias", file=out)
    _say(out, f"It goes over the {len(est.facet_vertices)} faces of the polytope spanned by the "
         f"rows and returns, for every neuron,")
    _say(out, f"the largest safe bias: alpha = {est.alpha.min():.4f} for all {W.shape[0]} "
         f"(the exact value is 1/sqrt(5) = {5 ** -0.5:.4f}).")
    _say(out, f"=> With any bias up to {est.alpha.min():.4f} the layer is injective on the whole "
         "unit sphere;")
    _say(out, f"   checked on {N_SPHERE:,} random inputs: {100 * rate:.2f}% certified.")
    _say(out, "(On the unit ball the answer would be alpha <= 0: the input x = 0 gives W x = 0, "
         "and only")
    _say(out, " neurons with alpha_i <= 0 stay active for it.)")
    r0 = injectivity_radius(W, 0.0, n_directions=2048, seed=0)
    r1 = injectivity_radius(W, 0.1, n_directions=2048, certify=False, seed=0)
    _say(out, "The inverse question, reluinj.injectivity_radius: the largest ball around 0 "
         "on which")
    _say(out, "the layer is injective.")
    _say(out, f"At bias 0 its radius is {r0.lower_bound:g} (certified: every ball); at bias 0.1 "
         f"it is {r1.radius:g}, since an input")
    _say(out, "shorter than 0.1 switches every neuron off. => Near the origin only a bias <= 0 "
         "keeps the input.")


def _section_sampled_bias(out, rng):
    W = demo_layer()
    est = sampled_bias(W, n_samples=N_BIAS, seed=int(rng.integers(2**31)))
    a = est.alpha_normalized
    exact = 5 ** -0.5
    print("3. The estimate: reluinj.sampled_bias", file=out)
    _say(out, f"It looks at {N_BIAS:,} random inputs instead of the faces: alpha from "
         f"{a.min():.4f} to {a.max():.4f},")
    _say(out, f"at most {np.max(a - exact):.2e} above the proven {exact:.4f}: it approaches the "
         "limit from above")
    _say(out, "as the samples grow.")
    W40 = random_frame(40, 5, seed=0)
    proof40 = polytope_bias(W40).alpha
    est40 = sampled_bias(W40, n_samples=N_BIAS, seed=0).alpha
    X = sphere_samples(N_SPHERE, 5, seed=rng)
    rate = ReLULayer(W40, est40).injectivity_rate(X)
    _say(out, f"For a random 40x5 layer the estimate (mean {est40.mean():+.3f}) is well above the "
          f"proof (mean {proof40.mean():+.3f}),")
    _say(out, f"and at the estimated bias {100 * rate:.3f}% of {N_SPHERE:,} fresh inputs are "
         "recoverable:")
    _say(out, "close to all, but not proven. => The estimate scales to layers with too many "
         "faces to")
    _say(out, "list; the proof is exact, for small n.")


def _section_reconstruction(out, rng):
    W = demo_layer()
    alpha = polytope_bias(W).alpha
    X = sphere_samples(N_RECONSTRUCT, W.shape[1], seed=rng)
    res = relu_inverse(W, alpha, ReLULayer(W, alpha)(X))
    err = np.linalg.norm(res.x - X, axis=1).max()
    print("4. Getting the input back: reluinj.relu_inverse", file=out)
    _say(out, f"At the proven bias {alpha.min():.4f}, {N_RECONSTRUCT:,} inputs are recovered "
         f"from their outputs with max error {err:.1e}")
    _say(out, f"({res.n_failed} failures). => Nothing is lost: the error is rounding error "
         "(double precision is about 1e-16).")


def _section_too_large(out, rng):
    W = demo_layer()
    X = sphere_samples(N_SPHERE, W.shape[1], seed=rng)
    rate = ReLULayer(W, TOO_LARGE_BIAS).injectivity_rate(X)
    print("5. Past the limit", file=out)
    _say(out, f"At bias {TOO_LARGE_BIAS} (above the proven {5 ** -0.5:.4f}), "
         f"{100 * (1 - rate):.1f}% of {N_SPHERE:,} random inputs keep too few active")
    _say(out, "neurons: different inputs give the same output, and they can no longer be "
         "recovered.")


def _section_bwrelu(out, rng):
    from .. import condition_number, dyadic_bwrelu_features, gram_matrix, relu_features

    J = 7
    K = 2**J - 1
    k_relu = condition_number(gram_matrix(relu_features(-1 + 2 * np.arange(K) / K)))
    k_bw = condition_number(gram_matrix(dyadic_bwrelu_features(J)))
    k_bw3 = condition_number(gram_matrix(dyadic_bwrelu_features(3)))
    print("6. BW-ReLU features (Shenouda, Zhou & Nowak 2024)", file=out)
    _say(out, f"A least-squares fit with {K} features on [-1, 1] loses about log10(condition "
         "number) digits.")
    _say(out, f"Gram condition number: ReLU features {k_relu:.1e} (about "
         f"{np.log10(k_relu):.0f} digits lost), BW-ReLU features")
    _say(out, f"{k_bw:.3f} (less than one digit; {k_bw3:.3f} with 7 features: bounded at every "
         "depth).")
    _say(out, "=> BW-ReLU (a wavelet made of 7 ReLUs) gives a well-conditioned basis; plain "
         "ReLU does not.")


def _section_cnn(out, rng):
    from .. import ConvOperator, estimate_model_rip, one_shot_reconstruct, sample_model_sparse
    from .. import theorem_3_3_bound

    K, M, ell, D, k, n_inputs = 96, 32, 5, 32, 10, 100
    op = ConvOperator.random(K, M, ell, D, seed=rng)
    z = sample_model_sparse(K, op.n, k, size=n_inputs, seed=rng)
    x = op.adjoint(z)

    def rel_err(v):
        v_hat = one_shot_reconstruct(op, v, k)
        return (np.linalg.norm((v_hat - v).reshape(n_inputs, -1), axis=1)
                / np.linalg.norm(v.reshape(n_inputs, -1), axis=1))
    err = rel_err(x)
    g_err = rel_err(rng.standard_normal(x.shape))
    est_k = estimate_model_rip(op, k, n_samples=2000, seed=rng)
    est_2k = estimate_model_rip(op, k, order=2, n_samples=2000, seed=rng)
    d2 = max(est_k.delta, est_2k.delta)
    bound = theorem_3_3_bound(est_k.delta, d2) if d2 < 1 else float("inf")
    print("7. A convolution layer with pooling (Gilbert et al. 2017)", file=out)
    _say(out, f"{K} filters of width {ell} on {M} channels of length {D}; pooling keeps the "
         f"k = {k} largest responses.")
    _say(out, f"One-shot reconstruction W^T M(W x) of {n_inputs} inputs that follow the layer's "
         "model:")
    _say(out, f"relative error mean {err.mean():.3f}; of random inputs: mean {g_err.mean():.3f}. "
         "=> The layer keeps")
    _say(out, "most of what its model describes, not of arbitrary inputs.")
    verdict = ("above 1, so at this size it promises nothing (the measured error is smaller)"
               if bound >= 1 else "a guarantee on the one-shot error")
    _say(out, f"Sampled model-RIP constants delta_k = {est_k.delta:.3f}, delta_2k = "
         f"{est_2k.delta:.3f}; the paper's Theorem 3.3")
    _say(out, f"bound on the error: {bound:.2f}, {verdict}.")


SECTIONS = [
    _section_layer,
    _section_polytope_bias,
    _section_sampled_bias,
    _section_reconstruction,
    _section_too_large,
    _section_bwrelu,
    _section_cnn,
]


def run_demo(out, seed=0):
    """Print every section of the demo report to the text stream `out`."""
    rng = np.random.default_rng(seed)
    print("reluinj demo: when does a ReLU layer lose information, and how is the input "
          "recovered?\n", file=out)
    for section in SECTIONS:
        section(out, rng)
        print(file=out)
