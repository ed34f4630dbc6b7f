from sklearn.utils.estimator_checks import parametrize_with_checks

from fastml.kernel_ridge import KernelRidge, KernelRidgeClassifier
from fastml.preprocessing import KernelTransformer


@parametrize_with_checks([
    KernelRidge(),
    KernelRidge(kernel="rbf", alpha=0.5),
    KernelRidgeClassifier(),
    KernelRidgeClassifier(kernel="laplacian"),
    KernelTransformer(),
    KernelTransformer(kernel="rbf", normalize=True),
    # kernels of non-negative data: the checks must feed them non-negative X
    KernelTransformer(kernel="chi2"),
    KernelRidge(kernel="intersection"),
    KernelRidgeClassifier(kernel="chi2"),
])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
