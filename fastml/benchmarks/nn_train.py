"""Benchmark cases: training small networks on MNIST.

* LeNet-5 (the modern variant of :func:`fastml.nn.lenet5`: conv 6@5x5 pad 2, ReLU,
  max-pool 2, conv 16@5x5, ReLU, max-pool 2, dense 120, 84, 10), one epoch over the
  60000 training images, minibatches of 128, SGD with momentum 0.9, learning rate 0.01,
  float32. Peer: torch with the same architecture, the same initial weights (copied from
  fastml's), the same hyper-parameters and ``torch.set_num_threads(n_threads)``.
* A one-hidden-layer MLP (784-128-10, ReLU), 3 epochs of Adam (lr 1e-3, batches of 200):
  scikit-learn's MLPClassifier defaults. Peers: scikit-learn (BLAS capped at the thread
  count) and torch.

Only training is timed; each result is a callable giving the test accuracy, which
``check`` compares (the two trainings shuffle differently, so accuracies agree within a
point, not exactly). With ``--fastml-quick`` the training set is 10000 images.

``bench/mnist_lenet.py`` runs LeNet-5 for 5 epochs, alternating fastml and torch epochs.
On a loaded machine
(other processes on the cores) every OpenMP parallel region waits for a descheduled
thread, and both fastml and torch slow down by large, erratic factors (fastml more,
having more parallel regions per batch); measure at a load below ~1.5.
"""
import warnings

import numpy as np

from fastml.benchmarks._data import mnist_pixels
from fastml.benchmarks._registry import Case, Peer, register

LR, MOMENTUM, BATCH = 0.01, 0.9, 128


def _inputs(data_dir, quick):
    n = 10000 if quick else 60000
    X, y = mnist_pixels(data_dir, n, "train", dtype=np.float32)
    T, t = mnist_pixels(data_dir, 10000, "test", dtype=np.float32)
    return {"X": X.reshape(-1, 1, 28, 28), "y": y, "T": T.reshape(-1, 1, 28, 28), "t": t}


def _accuracy_close(a, b):
    acc_a, acc_b = a(), b()
    return abs(acc_a - acc_b) < 0.02


def fastml_lenet5(seed=0):
    from fastml.nn import lenet5

    model = lenet5()
    model.build((1, 28, 28), np.float32, np.random.default_rng(seed))
    return model


def torch_lenet5_like(model):
    """torch's LeNet-5 with the weights of a built fastml lenet5 model."""
    import torch

    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                        nn.Linear(84, 10))
    ours = [la for la in model.layers if la.parameters()]
    theirs = [m for m in net if list(m.parameters())]
    with torch.no_grad():
        for a, b in zip(ours, theirs):
            w = a.W.value.T if a.W.value.ndim == 2 else a.W.value
            b.weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
            b.bias.copy_(torch.from_numpy(a.b.value))
    return net


def torch_train_epoch(net, opt, X, y, batch_size, gen):
    import torch

    loss_fn = torch.nn.CrossEntropyLoss()
    net.train()
    perm = torch.randperm(len(X), generator=gen)
    for s in range(0, len(X), batch_size):
        idx = perm[s:s + batch_size]
        opt.zero_grad()
        loss_fn(net(X[idx]), y[idx]).backward()
        opt.step()


def torch_accuracy(net, T, t):
    import torch

    net.eval()
    with torch.no_grad():
        pred = torch.cat([net(T[s:s + 2000]).argmax(1) for s in range(0, len(T), 2000)])
    return float((pred.numpy() == t).mean())


def _lenet_fastml(inp, n_threads):
    from fastml.nn import Trainer

    model = fastml_lenet5()
    tr = Trainer(model, epochs=1, batch_size=BATCH, learning_rate=LR, momentum=MOMENTUM,
                 validation_fraction=0.0, random_state=0, n_jobs=n_threads)
    tr.fit(inp["X"], inp["y"])
    return lambda: float(np.mean(tr.predict_scores(inp["T"]).argmax(1) == inp["t"]))


def _lenet_torch(inp, n_threads):
    import torch

    torch.set_num_threads(n_threads)
    net = torch_lenet5_like(fastml_lenet5())
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    X, y = torch.from_numpy(inp["X"]), torch.from_numpy(inp["y"])
    torch_train_epoch(net, opt, X, y, BATCH, torch.Generator().manual_seed(0))
    T = torch.from_numpy(inp["T"])
    return lambda: torch_accuracy(net, T, inp["t"])


def _mlp_fastml(inp, n_threads):
    from fastml.nn import Dense, NeuralNetClassifier, ReLU

    clf = NeuralNetClassifier(layers=[Dense(128), ReLU()], epochs=3, batch_size=200,
                              optimizer="adam", learning_rate=1e-3,
                              validation_fraction=0.0, random_state=0, n_jobs=n_threads)
    clf.fit(inp["X"].reshape(len(inp["X"]), -1), inp["y"])
    return lambda: clf.score(inp["T"].reshape(len(inp["T"]), -1), inp["t"])


def _mlp_sklearn(inp, n_threads):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    clf = MLPClassifier((128,), max_iter=3, batch_size=200, random_state=0)
    with threadpool_limits(limits=n_threads, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(inp["X"].reshape(len(inp["X"]), -1), inp["y"])
    return lambda: clf.score(inp["T"].reshape(len(inp["T"]), -1), inp["t"])


def _mlp_torch(inp, n_threads):
    import torch

    torch.set_num_threads(n_threads)
    torch.manual_seed(0)
    nn = torch.nn
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    X, y = torch.from_numpy(inp["X"]), torch.from_numpy(inp["y"])
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        torch_train_epoch(net, opt, X, y, 200, gen)
    T = torch.from_numpy(inp["T"])
    return lambda: torch_accuracy(net, T, inp["t"])


register(Case(
    area="nn_train", task="LeNet-5 1 epoch SGD(m=0.9, lr=0.01) batch 128",
    shape="60000x1x28x28", dtype="float32", make_inputs=_inputs, run=_lenet_fastml,
    peers=(Peer("torch", _lenet_torch, requires=("torch",)),), check=_accuracy_close,
    quick=True, quick_shape="10000x1x28x28",
))

register(Case(
    area="nn_train", task="MLP 784-128-10 3 epochs Adam batch 200",
    shape="60000x784", dtype="float32", make_inputs=_inputs, run=_mlp_fastml,
    peers=(Peer("scikit-learn", _mlp_sklearn),
           Peer("torch", _mlp_torch, requires=("torch",))),
    check=_accuracy_close, quick_shape="10000x784",
))
