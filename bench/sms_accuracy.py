"""SMS Spam Collection: stratified 10-fold CV of string-kernel classifiers.

    PYTHONPATH=. python bench/sms_accuracy.py [--data DIR] [--n-jobs 2]

Protocol (nested, so the reported figures never see the test fold during selection):

* outer: StratifiedKFold(10, shuffle=True, random_state=0) over the 5574 messages;
* inner: on each outer training part, StratifiedKFold(3) picks the kernel (kind in
  presence/spectrum/intersection, ngram_range in (3, 5), (2, 6), (1, 5)) and C of
  SVC(kernel="precomputed") by accuracy; the winner is refitted on the whole training
  part and scored on the test fold. KernelRidgeClassifier(kernel="precomputed") is then
  scored on the same selected kernel with alpha chosen by the same inner folds.
* MultinomialNB on char_ngrams (counts), ngram_range and alpha chosen the same way.

Each normalised kernel matrix is computed once for all 5574 messages and sliced per
fold: an entry k(s, t) / sqrt(k(s, s) k(t, t)) depends only on the two messages, so this
equals computing it per fold. For Naive Bayes the p-gram columns a training part never
contains are dropped per fold, which equals a vocabulary fitted on that part alone.
Published reference (char 3-gram logistic regression): 98.55% accuracy, spam F1 0.943.
"""
import argparse
import itertools
import time

import numpy as np
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import MultinomialNB
from sklearn.svm import SVC

from fastml.datasets import load_sms_spam
from fastml.kernel_ridge import KernelRidgeClassifier
from fastml.text import char_ngrams, string_kernel

KINDS = ["presence", "spectrum", "intersection"]
RANGES = [(3, 5), (2, 6), (1, 5)]
SVC_C = [1.0, 10.0]
KRC_ALPHA = [0.1, 1.0]
NB_RANGES = [(3, 3), (3, 5), (2, 6), (1, 5)]
NB_ALPHA = [0.1, 1.0]


def inner_score(make, fit_data, y, idx, n_splits=3):
    """Mean accuracy of ``make()`` over an inner stratified split of the rows ``idx``."""
    scores = []
    for tr, va in StratifiedKFold(n_splits, shuffle=True, random_state=1).split(idx, y[idx]):
        a, b = idx[tr], idx[va]
        Xtr, Xva = fit_data(a, a), fit_data(b, a)
        scores.append(accuracy_score(y[b], make().fit(Xtr, y[a]).predict(Xva)))
    return float(np.mean(scores))


def report(name, y, pred, extra=""):
    acc = accuracy_score(y, pred)
    f1 = f1_score(y, pred, pos_label=1)
    print(f"{name:58s} accuracy {100 * acc:6.2f}%  spam F1 {f1:.4f} {extra}", flush=True)
    return acc, f1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="folder holding SMSSpamCollection")
    ap.add_argument("--n-jobs", type=int, default=2)
    args = ap.parse_args()
    texts, labels = load_sms_spam(args.data)
    y = (labels == "spam").astype(int)
    n = len(texts)
    print(f"SMS Spam Collection: {n} messages, {y.sum()} spam")

    t0 = time.perf_counter()
    kernels = {}
    for kind, rng in itertools.product(KINDS, RANGES):
        t = time.perf_counter()
        kernels[kind, rng] = string_kernel(texts, ngram_range=rng, kind=kind,
                                           n_jobs=args.n_jobs)
        print(f"  kernel {kind:12s} p={rng}: {time.perf_counter() - t:.2f} s", flush=True)
    feats = {rng: char_ngrams(texts, rng) for rng in NB_RANGES}

    outer = list(StratifiedKFold(10, shuffle=True, random_state=0).split(texts, y))
    pred = {"svc": np.empty(n, int), "krc": np.empty(n, int), "nb": np.empty(n, int)}
    chosen = {"svc": [], "krc": [], "nb": []}
    for f, (tr, te) in enumerate(outer):
        # SVC: kernel and C by inner CV
        best = max(((inner_score(lambda: SVC(kernel="precomputed", C=C),
                                 lambda r, c, K=kernels[key]: K[np.ix_(r, c)], y, tr), key, C)
                    for key in kernels for C in SVC_C), key=lambda s: s[0])
        _, key, C = best
        K = kernels[key]
        m = SVC(kernel="precomputed", C=C).fit(K[np.ix_(tr, tr)], y[tr])
        pred["svc"][te] = m.predict(K[np.ix_(te, tr)])
        chosen["svc"].append((key, C))
        # KernelRidgeClassifier on the same kernel, alpha by inner CV
        a_best = max(KRC_ALPHA, key=lambda a: inner_score(
            lambda: KernelRidgeClassifier(kernel="precomputed", alpha=a, n_jobs=args.n_jobs),
            lambda r, c: K[np.ix_(r, c)], y, tr))
        m = KernelRidgeClassifier(kernel="precomputed", alpha=a_best, n_jobs=args.n_jobs)
        pred["krc"][te] = m.fit(K[np.ix_(tr, tr)], y[tr]).predict(K[np.ix_(te, tr)])
        chosen["krc"].append((key, a_best))

        # MultinomialNB on char_ngrams: columns unseen in the (inner) training part dropped
        def nb_data(rng):
            X = feats[rng]

            def get(r, c):
                keep = np.flatnonzero(np.asarray(X[c].sum(0)).ravel() > 0)
                return X[r][:, keep]

            return get

        _, rng, a = max(((inner_score(lambda: MultinomialNB(alpha=a), nb_data(rng), y, tr),
                          rng, a) for rng in NB_RANGES for a in NB_ALPHA),
                        key=lambda s: s[0])
        get = nb_data(rng)
        pred["nb"][te] = MultinomialNB(alpha=a).fit(get(tr, tr), y[tr]).predict(get(te, tr))
        chosen["nb"].append((rng, a))
        print(f"  fold {f}: SVC {key} C={C}; KRC alpha={a_best}; NB p={rng} alpha={a} "
              f"[{time.perf_counter() - t0:.0f} s]", flush=True)

    print("\nStratified 10-fold CV (nested selection), all 5574 messages:")
    report("SVC(kernel='precomputed') on fastml.text.string_kernel", y, pred["svc"])
    report("KernelRidgeClassifier(kernel='precomputed') on the same", y, pred["krc"])
    report("MultinomialNB on fastml.text.char_ngrams", y, pred["nb"])
    for name in chosen:
        values, counts = np.unique([repr(c) for c in chosen[name]], return_counts=True)
        print(f"  {name} choices: " + "; ".join(f"{v} x{c}" for v, c in zip(values, counts)))
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
