"""SMS Spam Collection: stratified 10-fold CV with the configuration that the nested
selection of bench/sms_accuracy.py picks in most folds (presence, p = 1..5, SVC C=10).
The full nested experiment (all kinds and ranges, KernelRidgeClassifier, MultinomialNB)
takes minutes and lives in bench/sms_accuracy.py."""
import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import SVC

from fastml.text import string_kernel


@pytest.mark.slow
def test_sms_spam_10_fold_accuracy(data_dir):
    from fastml.datasets import load_sms_spam

    try:
        texts, labels = load_sms_spam(f"{data_dir}/sms_spam")
    except FileNotFoundError:
        pytest.skip("SMS Spam Collection not in the data directory")
    y = (labels == "spam").astype(int)
    K = string_kernel(texts, ngram_range=(1, 5), kind="presence", n_jobs=-1)
    pred = np.empty_like(y)
    for tr, te in StratifiedKFold(10, shuffle=True, random_state=0).split(texts, y):
        svc = SVC(kernel="precomputed", C=10.0).fit(K[np.ix_(tr, tr)], y[tr])
        pred[te] = svc.predict(K[np.ix_(te, tr)])
    assert accuracy_score(y, pred) >= 0.985
    assert f1_score(y, pred) >= 0.94
