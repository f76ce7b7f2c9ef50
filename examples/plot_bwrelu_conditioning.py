"""
BW-ReLU: the wavelet, its derivative, and well-conditioned features
===================================================================

Shenouda, Zhou & Nowak (ICML 2024) write the linear B-spline wavelet ψ as seven ReLUs
(:func:`reluinj.bwrelu`, derivative :func:`reluinj.bwrelu_grad`). Their Theorems 3.1 and 3.3
compare the Gram matrices ``G = (<f_j, f_k>_{L2[-1,1]})`` of two feature families, computed here
exactly by :func:`reluinj.gram_matrix`: K ReLU neurons with evenly spaced kinks have a condition
number growing like K^4, while the dyadic BW-ReLU features of :func:`reluinj.dyadic_bwrelu_features`
stay below 2.25 at every depth J.
"""
import matplotlib.pyplot as plt
import numpy as np

import reluinj

x = np.linspace(-0.5, 3.5, 2001)
fig, ax = plt.subplots(figsize=(8, 3.4), constrained_layout=True)
ax.plot(x, reluinj.bwrelu(x), label="ψ(x) = bwrelu(x)")
ax.plot(x, reluinj.bwrelu_grad(x), label="ψ′(x) = bwrelu_grad(x)", alpha=0.8)
ax.scatter(np.arange(7) / 2, reluinj.bwrelu(np.arange(7) / 2), color="k", s=12, zorder=3,
           label="knots 0, 1/2, ..., 3")
ax.axhline(0, color="0.6", lw=0.6)
ax.legend()
ax.set_title("the BW-ReLU wavelet: seven ReLUs, coefficients (1, -8, 23, -32, 23, -8, 1)/6")
plt.show()

# %%
# Condition numbers of the exact Gram matrices
# --------------------------------------------
Ks = np.array([8, 16, 32, 64, 128])
kappa_relu = [reluinj.condition_number(reluinj.gram_matrix(
    reluinj.relu_features(-1 + 2 * np.arange(K) / K))) for K in Ks]
Js = np.arange(1, 8)
sizes, kappa_bw = [], []
for J in Js:
    feats = reluinj.dyadic_bwrelu_features(int(J))
    sizes.append(len(feats.biases))
    kappa_bw.append(reluinj.condition_number(reluinj.gram_matrix(feats)))
for K, k in zip(Ks, kappa_relu):
    print(f"ReLU, K = {K:>4}: cond(G) = {k:.3e}")
for J, K, k in zip(Js, sizes, kappa_bw):
    print(f"dyadic BW-ReLU, J = {J} ({K:>4} features): cond(G) = {k:.4f}")
slope = np.polyfit(np.log(Ks), np.log(kappa_relu), 1)[0]
print(f"log-log slope for ReLU: {slope:.2f} (Theorem 3.1: 4)")

fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
ax.loglog(Ks, kappa_relu, "o-", label=f"ReLU, evenly spaced kinks (slope {slope:.2f})")
ax.loglog(sizes, kappa_bw, "s-", label="dyadic BW-ReLU")
ax.loglog(Ks, kappa_relu[0] * (Ks / Ks[0]) ** 4, "k--", lw=0.8, label="K^4")
ax.set_xlabel("number of features K")
ax.set_ylabel("condition number of the Gram matrix")
ax.legend()
plt.show()
