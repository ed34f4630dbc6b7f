"""scikit-learn's estimator checks on the five fastml.svm estimators (a few kernels).

The checks scikit-learn itself expects its namesakes to fail (sample_weight is a
rescaling of C, not a repetition of samples; NuSVC ignores class_weight and cannot fit
one class after trimming) are expected to fail here too, for the same reasons."""
from sklearn import svm as sk_svm
from sklearn.utils._test_common.instance_generator import _get_expected_failed_checks
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastml.svm import SVC, SVR, NuSVC, NuSVR, OneClassSVM


def _expected_failures(estimator):
    return _get_expected_failed_checks(getattr(sk_svm, type(estimator).__name__)())


@parametrize_with_checks([
    SVC(),
    SVC(kernel="linear", n_jobs=2),
    SVC(kernel="laplacian"),
    NuSVC(),
    SVR(),
    SVR(kernel="poly", degree=3, C=10),
    NuSVR(),
    OneClassSVM(),
    OneClassSVM(kernel="cosine"),
], expected_failed_checks=_expected_failures)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
