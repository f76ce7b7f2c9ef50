"""
A trained PyTorch MLP, analysed layer by layer
==============================================

:meth:`reluinj.ReLUNetwork.from_torch` reads a ``torch.nn.Sequential`` of ``Linear`` + ``ReLU``
stages (PyTorch's ``ReLU(W x + b)`` becomes ``alpha = -b``). ``net.analyze(X)`` then reports, for
every stage and on the activations the data produce there, the fraction of samples at which the
stage is injective, how many neurons have a bias below the data-driven bias of
:func:`reluinj.data_bias`, and the stability constant; ``net.inverse(Y)`` inverts the network
stage by stage. We train a small MLP for a few seconds on a 2-D regression task, wide
enough (expansive layers) that injectivity can hold, and look at it before and after training.
"""
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch

import reluinj

# Neurons that are in no most-correlated basis of the data keep data bias +inf; data_bias warns
# about them (a SamplingWarning). Here that is expected, so the warning is silenced.
warnings.simplefilter("ignore", reluinj.SamplingWarning)
torch.manual_seed(0)
X = reluinj.testing.ball_samples(1_000, 4, seed=0)
target = np.sin(3 * X[:, :1]) * np.cos(2 * X[:, 1:2]) + X[:, 2:3] ** 2

model = torch.nn.Sequential(
    torch.nn.Linear(4, 24), torch.nn.ReLU(),
    torch.nn.Linear(24, 48), torch.nn.ReLU(),
    torch.nn.Linear(48, 96), torch.nn.ReLU(),
    torch.nn.Linear(96, 1),
)
before = reluinj.ReLUNetwork.from_torch(model[:-1]).analyze(X)
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
Xt, yt = torch.tensor(X, dtype=torch.float32), torch.tensor(target, dtype=torch.float32)
for step in range(300):
    opt.zero_grad()
    loss = torch.mean((model(Xt) - yt) ** 2)
    loss.backward()
    opt.step()
print(f"training MSE after 300 Adam steps: {loss.item():.4f}")

# %%
# The ReLU part (all stages but the final linear read-out):
net = reluinj.ReLUNetwork.from_torch(model[:-1])
after = net.analyze(X)
print(after.summary())

# %%
# Invert the feature map on the training data: samples at which every stage is injective come
# back exactly.
X_test = X[:200]
H = net.activations(X_test)[-1]
inv = net.inverse(H)
ok = inv.ok
err = np.linalg.norm(inv.x - X_test, axis=1)
print(f"inverted {ok.mean():.1%} of the samples; median error there {np.median(err[ok]):.1e}")

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
idx = np.arange(1, len(after.layers) + 1)
for rep, label, off in [(before, "at initialisation", -0.2), (after, "after training", 0.2)]:
    ax1.bar(idx + off, [r.injectivity_rate for r in rep.layers], width=0.4, label=label)
    ax2.bar(idx + off, [r.n_below_data_bias / r.shape[0] for r in rep.layers], width=0.4,
            label=label)
for ax, title in [(ax1, "fraction of the data where the stage is injective"),
                  (ax2, "fraction of neurons with bias <= data bias")]:
    ax.set_xticks(idx, [f"{r.shape[0]}x{r.shape[1]}" for r in after.layers])
    ax.set_xlabel("stage (m x n)")
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.legend()
plt.show()
