"""LeNet-5 on full MNIST with data augmentation: test accuracy within 15 epochs.

fastml.nn.lenet5 (61,706 parameters) trained on the 60000 training images with random
shifts, rotations and scaling of every minibatch (fastml.nn.ImageAugmenter, compiled,
on the worker threads), SGD with momentum 0.9, a cosine learning-rate schedule, weight
decay, pixels scaled by MNIST's standard deviation, float32. The test
accuracy on the 10000 test images is printed after every epoch (inference mode, no
augmentation). Usage:

    PYTHONPATH=. python bench/mnist_augment.py --epochs 15 --threads 2 [--data DIR]
"""
import argparse
import os
import time

import numpy as np



def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.03)
    ap.add_argument("--weight-decay", type=float, default=3e-4)
    ap.add_argument("--shift", type=float, default=0.1)
    ap.add_argument("--rotation", type=float, default=10.0)
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--no-augment", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", default=None, metavar="DIR",
                    help="folder holding mnist/ (default: the data home, $FASTML_DATA else "
                         "~/fastml_data; never downloads)")
    args = ap.parse_args(argv)

    from fastml.datasets import load_mnist
    from fastml.nn import ImageAugmenter, Trainer, lenet5

    X, y = load_mnist(args.data, "train", download=False)
    T, t = load_mnist(args.data, "test", download=False)
    # pixels / 255 divided by MNIST's standard deviation 0.3081 (not centred, so the
    # zero fill of the augmentation is the background value)
    scale = np.float32(1 / (255 * 0.3081))
    X = X[:, None].astype(np.float32) * scale
    T = T[:, None].astype(np.float32) * scale
    aug = None if args.no_augment else ImageAugmenter(shift=args.shift,
                                                      rotation=args.rotation,
                                                      scale=args.scale)
    model = lenet5(random_state=args.seed)
    tr = Trainer(model, optimizer="sgd", learning_rate=args.lr, momentum=0.9,
                 weight_decay=args.weight_decay, batch_size=args.batch_size,
                 epochs=args.epochs, lr_schedule="cosine", validation_fraction=0.0,
                 augment=aug, random_state=args.seed, n_jobs=args.threads)
    print(f"LeNet-5, {len(X)} training images, batch {args.batch_size}, SGD momentum 0.9, "
          f"lr {args.lr} cosine over {args.epochs} epochs, weight decay "
          f"{args.weight_decay}, augmentation {aug}, {args.threads} threads, float32; "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    print(f"{'epoch':>5} {'lr':>8} {'train loss':>10} {'seconds':>8} {'test acc':>9}",
          flush=True)
    best = 0.0
    t_start = time.perf_counter()
    for e in range(args.epochs):
        t0 = time.perf_counter()
        tr.partial_fit(X, y)
        dt = time.perf_counter() - t0
        rec = tr.history_[-1]
        acc = float(np.mean(tr.predict_scores(T).argmax(1) == t))
        best = max(best, acc)
        print(f"{e + 1:5d} {rec['lr']:8.4f} {rec['train_loss']:10.4f} {dt:8.1f} "
              f"{acc:9.4f}", flush=True)
    print(f"final test accuracy {acc:.4f} after {args.epochs} epochs (best {best:.4f}); "
          f"total {time.perf_counter() - t_start:.0f} s; load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
