"""
Analyse and invert a small trained CNN, layer by layer (reluinj.ConvNetwork)
============================================================================

A CNN with two padded ``Conv2d`` + ``ReLU`` stages, a ``MaxPool2d`` and a ``Linear`` head is
trained for a few seconds on scikit-learn's bundled 8x8 digits (CPU), turned into a
:class:`reluinj.ConvNetwork`, analysed on held-out digits (per stage: injectivity of the active
rows, stability constant, active fraction, pooling facts) and its convolution stages are
inverted from the activations after the second convolution.

Run ``python examples/digits_cnn_analysis.py`` (needs the ``torch`` extra and scikit-learn).
"""
import time

import numpy as np

import reluinj


def load_digits_split(n_test=60, seed=0):
    """8x8 digits scaled to [0, 1]: (X_train, y_train, X_test, y_test), X of shape (n, 1, 8, 8)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    X = (d.images / 16.0).astype(np.float32)[:, None]
    perm = np.random.default_rng(seed).permutation(len(X))
    test, train = perm[:n_test], perm[n_test:]
    return X[train], d.target[train], X[test], d.target[test]


def train_cnn(X, y, *, epochs=4, seed=0, device="cpu"):
    """Train Conv(1->8)-ReLU-Conv(8->32)-ReLU-MaxPool(2)-Flatten-Linear(512->10) with Adam.

    Returns the model in eval mode, in float64 on the CPU.
    """
    import torch

    torch.manual_seed(seed)
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
        nn.Conv2d(8, 32, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 4 * 4, 10),
    ).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    Xt = torch.from_numpy(X).to(device)
    yt = torch.from_numpy(np.asarray(y, dtype=np.int64)).to(device)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(Xt), generator=gen).split(64):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    return model.eval().double().cpu()


def main():
    import torch

    t0 = time.perf_counter()
    Xtr, ytr, Xte, yte = load_digits_split()
    model = train_cnn(Xtr, ytr)
    with torch.no_grad():
        acc = (model(torch.from_numpy(Xte).double()).argmax(1).numpy() == yte).mean()
    print(f"trained in {time.perf_counter() - t0:.1f} s, held-out accuracy {100 * acc:.1f}%")
    net = reluinj.ConvNetwork.from_torch(model, (1, 8, 8))
    X = Xte[:20].astype(np.float64)
    analysis = net.analyze(X, with_data_bias=False)
    print(analysis.summary())
    # invert the two convolution stages from the activations after the second one
    H1 = net.activations(X)[2]
    res = net.inverse(H1.reshape((-1,) + net.stages[1].out_shape), start=1, x_true=X)
    ok = res.ok
    print(f"convolution stages inverted uniquely on {ok.sum()}/{len(X)} digits; "
          f"max relative error there {res.rel_error[ok].max() if ok.any() else float('nan'):.2e}")
    print(f"total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
