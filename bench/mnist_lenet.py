"""LeNet-5 on full MNIST: fastml against torch, epoch by epoch, in one process.

Both train the same architecture (fastml.nn.lenet5: conv 6@5x5 pad 2, ReLU, max-pool 2,
conv 16@5x5, ReLU, max-pool 2, dense 120, 84, 10) from the same initial weights, in
float32, with the same hyper-parameters (minibatches of 128, SGD momentum 0.9,
learning rate 0.01, cross-entropy) and the same thread count. Epochs alternate (fastml
epoch 1, torch epoch 1, fastml epoch 2, ...) so that both see the same machine load.
Only training is timed; test accuracy on the 10000 test images is printed after each
epoch. Usage:

    PYTHONPATH=. python bench/mnist_lenet.py --epochs 5 --threads 2 [--data DIR]
"""
import argparse
import os
import sys
import time

import numpy as np



def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--n-train", type=int, default=60000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--normalize", action="store_true",
                    help="standardise pixels with MNIST's mean 0.1307 and std 0.3081")
    ap.add_argument("--schedule", choices=["constant", "cosine"], default="constant",
                    help="per-epoch learning rate: constant, or cosine from lr to 0 over "
                         "--epochs (applied to both)")
    ap.add_argument("--data", default=None, metavar="DIR",
                    help="folder holding mnist/ (default: the data home, $FASTML_DATA else "
                         "~/fastml_data; never downloads)")
    args = ap.parse_args(argv)

    from fastml.benchmarks.nn_train import (fastml_lenet5, torch_accuracy,
                                            torch_lenet5_like, torch_train_epoch)
    from fastml.datasets import load_mnist
    from fastml.nn import Trainer

    X, y = load_mnist(args.data, "train", download=False)
    T, t = load_mnist(args.data, "test", download=False)
    X = (X[:args.n_train, None] / np.float32(255)).astype(np.float32)
    y = y[:args.n_train].astype(np.int64)
    T = (T[:, None] / np.float32(255)).astype(np.float32)
    t = t.astype(np.int64)
    if args.normalize:
        X = (X - np.float32(0.1307)) / np.float32(0.3081)
        T = (T - np.float32(0.1307)) / np.float32(0.3081)

    model = fastml_lenet5(args.seed)
    tr = Trainer(model, batch_size=args.batch_size, learning_rate=args.lr,
                 momentum=args.momentum, validation_fraction=0.0, random_state=args.seed,
                 n_jobs=args.threads, epochs=args.epochs,
                 lr_schedule=None if args.schedule == "constant" else "cosine")
    torch = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("torch not installed: fastml only", file=sys.stderr)
    if torch is not None:
        torch.set_num_threads(args.threads)
        tnet = torch_lenet5_like(model)  # same initial weights
        topt = torch.optim.SGD(tnet.parameters(), lr=args.lr, momentum=args.momentum)
        tX, ty, tT = torch.from_numpy(X), torch.from_numpy(y), torch.from_numpy(T)
        gen = torch.Generator().manual_seed(args.seed)

    print(f"LeNet-5, {len(X)} training images, batch {args.batch_size}, SGD momentum "
          f"{args.momentum}, lr {args.lr} ({args.schedule}), "
          f"{'standardised' if args.normalize else 'pixels/255'}, {args.threads} threads, "
          f"float32; load "
          f"{os.getloadavg()[0]:.2f}")
    print(f"{'epoch':>5} {'fastml s':>9} {'fastml acc':>10} {'torch s':>8} {'torch acc':>9} "
          f"{'torch/fastml':>12}")
    ft, tt = [], []
    for e in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        tr.partial_fit(X, y)
        ft.append(time.perf_counter() - t0)
        facc = float(np.mean(tr.predict_scores(T).argmax(1) == t))
        row = f"{e:5d} {ft[-1]:9.2f} {facc:10.4f}"
        if torch is not None:
            for g in topt.param_groups:
                g["lr"] = tr.lr_schedule(e - 1, args.lr)
            t0 = time.perf_counter()
            torch_train_epoch(tnet, topt, tX, ty, args.batch_size, gen)
            tt.append(time.perf_counter() - t0)
            tacc = torch_accuracy(tnet, tT, t)
            row += f" {tt[-1]:8.2f} {tacc:9.4f} {tt[-1] / ft[-1]:12.2f}"
        print(row, flush=True)
    # medians: a load spike from another process in one epoch does not move them
    summary = (f"median epoch: fastml {np.median(ft):.2f} s "
               f"({len(X) / np.median(ft):.0f} img/s)")
    if tt:
        summary += (f", torch {np.median(tt):.2f} s ({len(X) / np.median(tt):.0f} img/s), "
                    f"ratio torch/fastml {np.median(tt) / np.median(ft):.2f}")
    print(summary + f"; load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
