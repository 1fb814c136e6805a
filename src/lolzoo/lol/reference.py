"""The closed-form reference row: a linear model on GL-invariant scale features of each ΔW.

Per module, log ‖ΔW‖_F and the top singular values of ΔW = U Vᵀ (from r×r matrices, as the
MLP + SVD model, never forming ΔW). These say how large each update is and how its energy is
spread, nothing about its directions; a LoL model that does not beat a ridge / logistic
regression on them has learned no more than scale.

The fit mirrors a LoL model's: features and regression targets standardised with training
statistics, coefficients fitted on the training rows, the penalty chosen by the validation
rows (per target), and the test rows never passed in.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import log_loss
from sklearn.preprocessing import StandardScaler

from lolzoo.lol.lora_products import product_sq_norm
from lolzoo.lol.svd_mlp import lora_singular_values
from lolzoo.lol.tasks import UNSEEN_CLASS, MulticlassTask, RegressionTask, TaskError

DEFAULT_SINGULAR_VALUES = 8
PENALTIES = tuple(np.logspace(-3, 5, 17))  # ridge alpha; logistic C = 1 / alpha
LOG_FLOOR = 1e-30  # a module the LoRA leaves untouched (ΔW = 0) gets log 1e-30, not -inf
_ROWS = 4096  # LoRAs per float64 chunk: bounds the memory of the cast


def invariant_features(U_list: Sequence, V_list: Sequence, singular_values: int = DEFAULT_SINGULAR_VALUES
                       ) -> np.ndarray:
    """(N, modules · (1 + singular_values)) float64: per module log ‖U Vᵀ‖_F, then its descending
    singular values, zero-padded or truncated to `singular_values`. U_list[k] is (N, n_k, r),
    V_list[k] (N, m_k, r), tensors or arrays; invariant under (U g, V g^{-T}) for any g ∈ GL(r)."""
    if len(U_list) != len(V_list) or not len(U_list):
        raise ValueError("invariant_features needs one U and one V per module")
    columns = []
    for u_all, v_all in zip(U_list, V_list):
        u_all, v_all = torch.as_tensor(u_all), torch.as_tensor(v_all)
        parts = []
        for start in range(0, u_all.shape[0], _ROWS):  # float64: the features are compared at 1e-8
            u = u_all[start:start + _ROWS].to(torch.float64)
            v = v_all[start:start + _ROWS].to(torch.float64)
            log_norm = 0.5 * torch.log(product_sq_norm(u, v).clamp_min(LOG_FLOOR ** 2))
            parts.append(torch.cat([log_norm[:, None], lora_singular_values(u, v, singular_values)], dim=1))
        columns.append(torch.cat(parts) if parts else torch.zeros(0, 1 + singular_values, dtype=torch.float64))
    return torch.cat(columns, dim=1).numpy()


class ReferenceModel:
    """A fitted reference; `predict` gives what a LoL model's task gives: values in label units
    (regression), probabilities of True per label (multilabel), class probabilities in the order
    of `classes` (multiclass; `predict_classes` for the metrics)."""

    def __init__(self, kind: str, scaler: StandardScaler, models: list, alphas: list[float],
                 y_mean=None, y_std=None, constants=None, classes=None):
        self.kind, self.scaler, self.models, self.alphas = kind, scaler, models, alphas
        self.y_mean, self.y_std, self.constants, self.classes = y_mean, y_std, constants, classes

    def predict(self, features: np.ndarray) -> np.ndarray:
        x = self.scaler.transform(np.asarray(features, dtype=np.float64))
        if self.kind == "regression":
            return self.models[0].predict(x).reshape(len(x), -1) * self.y_std + self.y_mean
        if self.kind == "multiclass":
            return self.models[0].predict_proba(x)
        return np.stack([np.full(len(x), c) if m is None else m.predict_proba(x)[:, 1]
                         for m, c in zip(self.models, self.constants)], axis=1)

    def predict_classes(self, features: np.ndarray) -> np.ndarray:
        """(N, 1) object array of the most probable class, as MulticlassTask.point_predictions."""
        best = self.predict(features).argmax(axis=1)
        return np.array([[self.classes[i]] for i in best], dtype=object)


def fit_reference(features_train: np.ndarray, y_train: np.ndarray, features_val: np.ndarray,
                  y_val: np.ndarray, kind: str, penalties: Sequence[float] = PENALTIES) -> ReferenceModel:
    """Fit on the training rows, pick each target's penalty by the validation rows; labels are
    (rows, targets) as the LoL tasks hold them."""
    if len(y_train) == 0 or len(y_val) == 0:
        raise TaskError("the reference needs training and validation rows")
    scaler = StandardScaler().fit(np.asarray(features_train, dtype=np.float64))
    x_train, x_val = scaler.transform(features_train), scaler.transform(features_val)
    y_train, y_val = np.asarray(y_train), np.asarray(y_val)
    if kind == "regression":
        return _fit_ridge(scaler, x_train, y_train.astype(np.float64), x_val, y_val.astype(np.float64), penalties)
    if kind == "multilabel":
        return _fit_multilabel(scaler, x_train, y_train.astype(np.float64), x_val, y_val.astype(np.float64), penalties)
    if kind == "multiclass":
        return _fit_multiclass(scaler, x_train, y_train, x_val, y_val, penalties)
    raise TaskError(f"unknown task {kind!r} for the reference")


def fit_reference_on_split(features: np.ndarray, labels: np.ndarray, names: np.ndarray, kind: str,
                           penalties: Sequence[float] = PENALTIES) -> ReferenceModel:
    """fit_reference on the rows named 'train' and 'val' (a split of assign_splits / cv_splits);
    the 'test' rows, features and labels, are never read."""
    train, val = names == "train", names == "val"
    return fit_reference(features[train], labels[train], features[val], labels[val], kind, penalties)


def _fit_ridge(scaler, x_train, y_train, x_val, y_val, penalties) -> ReferenceModel:
    task = RegressionTask.fit([str(t) for t in range(y_train.shape[1])], y_train)  # train mean/std, std 0 → 1
    z_train, z_val = (y_train - task.mean) / task.std, (y_val - task.mean) / task.std
    errors = np.array([((Ridge(alpha=a).fit(x_train, z_train).predict(x_val).reshape(z_val.shape) - z_val) ** 2
                        ).mean(axis=0) for a in penalties])  # (penalties, targets)
    alphas = [float(penalties[i]) for i in errors.argmin(axis=0)]
    model = Ridge(alpha=np.array(alphas)).fit(x_train, z_train)  # one penalty per target
    return ReferenceModel("regression", scaler, [model], alphas, y_mean=task.mean, y_std=task.std)


def _best_logistic(x_train, y_train, x_val, y_val, penalties, labels):
    """The LogisticRegression whose penalty gives the lowest validation log loss, and that penalty."""
    fits = [(LogisticRegression(C=1.0 / a, max_iter=1000).fit(x_train, y_train), a) for a in penalties]
    losses = [log_loss(y_val, m.predict_proba(x_val), labels=labels) for m, _ in fits]
    model, alpha = fits[int(np.argmin(losses))]
    return model, float(alpha)


def _fit_multilabel(scaler, x_train, y_train, x_val, y_val, penalties) -> ReferenceModel:
    models, alphas, constants = [], [], []
    for t in range(y_train.shape[1]):
        if len(np.unique(y_train[:, t])) < 2:  # one class in training: nothing to fit, predict it
            models.append(None), alphas.append(float("nan")), constants.append(float(y_train[0, t]))
            continue
        model, alpha = _best_logistic(x_train, y_train[:, t], x_val, y_val[:, t], penalties, [0.0, 1.0])
        models.append(model), alphas.append(alpha), constants.append(float("nan"))
    return ReferenceModel("multilabel", scaler, models, alphas, constants=constants)


def _fit_multiclass(scaler, x_train, y_train, x_val, y_val, penalties) -> ReferenceModel:
    task = MulticlassTask.fit(["class"], y_train)  # classes of the training rows, in the tasks' order
    codes_train, codes_val = task.encode(y_train).numpy(), task.encode(y_val).numpy()
    seen = codes_val != UNSEEN_CLASS  # a validation class absent from training cannot be scored
    if not seen.any():
        raise TaskError("no validation row has a class seen in training")
    model, alpha = _best_logistic(x_train, codes_train, x_val[seen], codes_val[seen], penalties,
                                  list(range(len(task.classes))))
    return ReferenceModel("multiclass", scaler, [model], [alpha], classes=task.classes)
