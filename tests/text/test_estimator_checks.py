from sklearn.utils.estimator_checks import parametrize_with_checks

from fastml.text import StringKernel


@parametrize_with_checks([
    StringKernel(),
    StringKernel(ngram_range=2, kind="intersection", normalize=False),
    StringKernel(ngram_range=(1, 3), kind="spectrum", lowercase=True, collapse_whitespace=True),
])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
