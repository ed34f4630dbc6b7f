"""scikit-learn's KNNImputer with its nan_euclidean distances and its donor search on
fastml.

scikit-learn's ``transform`` computes the distances of the rows to impute to the fitted
rows chunk by chunk, then, for every column, copies the distances of the receivers to
that column's donors out of the chunk and runs ``argpartition`` on the copy: one pass
over the whole chunk per column. Here each receiver's ``L`` nearest fitted rows (``L``
a few times ``n_neighbors``) are found once per chunk, in distance order (ties by row
index), and every missing entry of the row takes its ``n_neighbors`` nearest donors from
that short list; a row whose list holds too few donors for a column (a column missing in
most fitted rows) gets scikit-learn's exact selection for that column. The donors, their
weights (uniform, or 1 / distance with scikit-learn's rule for zero distances) and the
column means for receivers without any donor at a defined distance are scikit-learn's;
among candidates at exactly equal distances the lower row index is taken (scikit-learn's
``argpartition`` takes any of the tied donors; so may the candidate search, at its
``L``-th place).

Anything else (a callable metric or weights, ``fastml`` not computing the input) runs
scikit-learn's own ``transform``.
"""
import numpy as np
from sklearn.impute import KNNImputer as _SKKNNImputer
from sklearn.utils._mask import _get_mask
from sklearn.utils._missing import is_scalar_nan
from sklearn.utils.validation import FLOAT_DTYPES, check_is_fitted, validate_data

from fastml.metrics import _nan_euclidean

__all__ = ["KNNImputer"]


def _weights(dist, weights):
    """scikit-learn's donor weights (its ``_get_weights`` for ``uniform`` / ``distance``,
    NaN weights then 0): rows of ``dist`` are one receiver's donors, NaN past the end."""
    if weights == "uniform":
        return (~np.isnan(dist)).astype(np.float64)
    with np.errstate(divide="ignore"):
        w = 1.0 / dist
    inf_mask = np.isinf(w)
    inf_row = np.any(inf_mask, axis=1)
    w[inf_row] = inf_mask[inf_row]
    w[np.isnan(w)] = 0.0
    return w


class KNNImputer(_SKKNNImputer):
    __doc__ = _SKKNNImputer.__doc__

    def _fast(self):
        return (isinstance(self.metric, str) and self.metric == "nan_euclidean"
                and isinstance(self.weights, str) and self.weights in ("uniform", "distance"))

    def transform(self, X):
        if not self._fast():
            return super().transform(X)
        check_is_fitted(self)
        ensure_all_finite = "allow-nan" if is_scalar_nan(self.missing_values) else True
        X = validate_data(self, X, accept_sparse=False, dtype=FLOAT_DTYPES,
                          force_writeable=True, ensure_all_finite=ensure_all_finite,
                          copy=self.copy, reset=False)
        mask = _get_mask(X, self.missing_values)
        mask_fit_X = self._mask_fit_X
        valid_mask = self._valid_mask
        X_indicator = super()._transform_indicator(mask)
        if np.any(mask[:, valid_mask]):
            self._impute(X, mask, mask_fit_X, valid_mask)
        if self.keep_empty_features:
            Xc = X
            Xc[:, ~valid_mask] = 0
        else:
            Xc = X[:, valid_mask]
        return super()._concatenate_indicator(Xc, X_indicator)

    def _impute(self, X, mask, mask_fit_X, valid_mask):
        """Fill the missing entries of X in place (scikit-learn's rules)."""
        fit_X = self._fit_X
        row_missing_idx = np.flatnonzero(mask[:, valid_mask].any(axis=1))
        n_fit = fit_X.shape[0]
        k = self.n_neighbors
        # candidates per receiver: enough for every column but the mostly missing ones
        L = int(min(n_fit, max(4 * k, k + 32)))
        col_means = {}
        n_donors = np.count_nonzero(~mask_fit_X, axis=0)  # per column

        def col_mean(col):
            if col not in col_means:
                col_means[col] = np.ma.array(fit_X[:, col], mask=mask_fit_X[:, col]).mean()
            return col_means[col]

        def process_chunk(D, start):
            rows = row_missing_idx[start:start + len(D)]
            missing = mask[rows]
            # the L nearest fitted rows of each receiver, in (distance, index) order
            # (NaN distances last)
            if L < n_fit:
                cand = np.argpartition(D, L - 1, axis=1)[:, :L]
            else:
                cand = np.broadcast_to(np.arange(n_fit), D.shape).copy()
            cd = np.take_along_axis(D, cand, axis=1)
            order = np.lexsort((cand, cd), axis=1)
            cand = np.take_along_axis(cand, order, axis=1)
            cd = np.take_along_axis(cd, order, axis=1)
            # rows whose every defined distance is among their candidates
            complete = np.isnan(cd[:, -1]) | (L == n_fit)
            for col in np.flatnonzero(valid_mask):
                recv = np.flatnonzero(missing[:, col])
                if recv.size == 0:
                    continue
                c_idx, c_dist = cand[recv], cd[recv]
                usable = ~mask_fit_X[c_idx, col] & ~np.isnan(c_dist)
                taken = usable & (np.cumsum(usable, axis=1) <= k)
                found = taken.sum(axis=1)
                # short of k donors although the row has more beyond its candidates
                exact = (found < min(k, int(n_donors[col]))) & ~complete[recv]
                fast = ~exact
                if np.any(fast):
                    f = np.flatnonzero(fast)
                    dist = np.where(taken[f], c_dist[f], np.nan)
                    none = found[f] == 0
                    if np.any(none):
                        X[rows[recv[f[none]]], col] = col_mean(col)
                    keep = ~none
                    if np.any(keep):
                        w = _weights(dist[keep], self.weights)
                        v = np.where(taken[f[keep]], fit_X[c_idx[f[keep]], col], 0.0)
                        X[rows[recv[f[keep]]], col] = (w * v).sum(axis=1) / w.sum(axis=1)
                if np.any(exact):
                    self._exact_column(X, D, rows, recv[exact], col, fit_X, mask_fit_X,
                                       col_mean)

        for _ in _nan_euclidean.pairwise_distances_chunked(
                X[row_missing_idx, :], fit_X, metric="nan_euclidean",
                missing_values=self.missing_values, reduce_func=process_chunk):
            pass

    def _exact_column(self, X, D, rows, recv, col, fit_X, mask_fit_X, col_mean):
        """scikit-learn's selection for receivers ``recv`` (indices into the chunk D) of
        column ``col``: argpartition over every donor of the column."""
        donors = np.flatnonzero(~mask_fit_X[:, col])
        sub = D[recv][:, donors]
        all_nan = np.isnan(sub).all(axis=1)
        if np.any(all_nan):
            X[rows[recv[all_nan]], col] = col_mean(col)
        recv, sub = recv[~all_nan], sub[~all_nan]
        if recv.size:
            n_neighbors = min(self.n_neighbors, len(donors))
            X[rows[recv], col] = self._calc_impute(sub, n_neighbors, fit_X[donors, col],
                                                   mask_fit_X[donors, col])
