"""Neural networks: layers with a Module API (:mod:`fastml.nn.base`), losses,
optimisers and schedules, a trainer, ready-made models and scikit-learn estimators.
:mod:`fastml.nn.functional` holds the compiled forward and backward primitives
(convolution, transposed convolution, pooling)."""
from fastml.nn import functional

__all__ = ["functional"]
from fastml.nn import init  # noqa: E402
from fastml.nn import layers as _layers  # noqa: E402
from fastml.nn.layers import *  # noqa: E402,F401,F403
from fastml.nn.losses import (  # noqa: E402
    BinaryCrossEntropyLoss, CrossEntropyLoss, HingeLoss, HuberLoss, L1Loss, MSELoss)
from fastml.nn.optim import (  # noqa: E402
    SGD, Adam, CosineLR, ExponentialLR, InverseTimeLR, ReduceLROnPlateau, StepLR)
from fastml.nn.augment import ImageAugmenter  # noqa: E402
from fastml.nn.gradcheck import gradient_check  # noqa: E402
from fastml.nn.trainer import EarlyStopping, StopTraining, Trainer  # noqa: E402
from fastml.nn.models import lenet5, mlp, resnet_small  # noqa: E402
from fastml.nn.estimator import NeuralNetClassifier, NeuralNetRegressor  # noqa: E402

__all__ += [name for name in _layers.__all__ if name != "has_image_layers"] + [
    "BinaryCrossEntropyLoss", "CrossEntropyLoss",
    "HingeLoss", "HuberLoss", "L1Loss", "MSELoss", "SGD", "Adam", "CosineLR",
    "ExponentialLR", "InverseTimeLR", "ReduceLROnPlateau", "StepLR", "ImageAugmenter",
    "EarlyStopping", "StopTraining", "Trainer", "gradient_check", "init", "lenet5", "mlp",
    "resnet_small", "NeuralNetClassifier", "NeuralNetRegressor",
]
