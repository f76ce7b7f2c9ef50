"""
The sampled bias converges as the number of samples grows
=========================================================

:func:`reluinj.sampled_bias` estimates the maximal bias of each neuron by the minimum of
``<x, phi_i>`` over sampled unit vectors ``x`` whose most-correlated basis contains ``i``. More
samples can only lower the estimate, towards the exact infimum. Here a frame of 30 vectors in
R^3 is small enough to compare with the exact, facet-based :func:`reluinj.polytope_bias`, a
bias with a proof. The two answer slightly different questions (both give sufficient
conditions; neither is below the other for every neuron), so we measure the convergence of the
sampled bias against its own value at a much larger N. We plot, against the number of samples N (log-log), how far
the sampled bias still is above its value at the largest N, and the fraction of *fresh* points
of the sphere on which each estimate certifies injectivity (:meth:`reluinj.BiasEstimate.certify`).
"""
import matplotlib.pyplot as plt
import numpy as np

import reluinj

W = reluinj.random_frame(30, 3, seed=0)
exact = reluinj.polytope_bias(W)
Ns = np.unique(np.logspace(2, 6, 9).astype(int))
ests = [reluinj.sampled_bias(W, n_samples=int(N), seed=0) for N in Ns]
limit = reluinj.sampled_bias(W, n_samples=4_000_000, seed=1).alpha
gap = np.array([np.max(e.alpha - limit) for e in ests])
X_fresh = reluinj.testing.sphere_samples(200_000, 3, seed=123)
certified = np.array([e.certify(X_fresh).mean() for e in ests])
print("N          max gap to N=4e6   certified fraction")
for N, g, c in zip(Ns, gap, certified):
    print(f"{N:>9d}  {g:>14.2e}   {c:.5f}")
slope = np.polyfit(np.log(Ns[:-1]), np.log(gap[:-1]), 1)[0]
print(f"fitted log-log slope of the gap: {slope:.2f}")
print("polytope bias certifies a fraction", exact.certify(X_fresh).mean(), "of the fresh points;",
      int(np.sum(exact.alpha > limit + 1e-9)), "of 30 neurons have a polytope bias above the "
      "sampled limit")

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
ax1.loglog(Ns, np.maximum(gap, 1e-6), "o-", label="max_i (sampled_N - sampled_4e6)")
ax1.loglog(Ns, np.exp(np.polyval(np.polyfit(np.log(Ns[:-1]), np.log(gap[:-1]), 1), np.log(Ns))),
           "k--", lw=0.8, label=f"least-squares fit, slope {slope:.2f}")
ax1.set_xlabel("number of samples N")
ax1.set_ylabel("gap of the sampled bias")
ax1.legend()
ax1.set_title("convergence of the sampled bias")
ax2.semilogx(Ns, 1 - certified, "o-", color="tab:red")
ax2.set_yscale("symlog", linthresh=1e-5)
ax2.set_xlabel("number of samples N")
ax2.set_ylabel("fraction of fresh points NOT certified")
ax2.set_title("certification on 200 000 fresh points")
plt.show()

# %%
# The sampled bias per neuron, against the proven polytope bias:
fig, ax = plt.subplots(figsize=(8, 3.2), constrained_layout=True)
order = np.argsort(exact.alpha)
ax.plot(exact.alpha[order], "s", label="polytope_bias (proven)")
ax.plot(ests[2].alpha[order], ".", label=f"sampled_bias, N = {Ns[2]}")
ax.plot(limit[order], "x", label="sampled_bias, N = 4e6")
ax.set_xlabel("neuron (sorted by polytope bias)")
ax.set_ylabel("alpha_i")
ax.legend()
plt.show()
