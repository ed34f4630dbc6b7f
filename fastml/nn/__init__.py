"""Neural-network building blocks. For now: :mod:`fastml.nn.functional`, the compiled
forward and backward primitives (convolution, transposed convolution, pooling)."""
from fastml.nn import functional

__all__ = ["functional"]
from fastml.nn.layers import (  # noqa: E402
    ELU, AvgPool2D, BatchNorm, Concat, Conv2D, ConvTranspose2D, Dense, Dropout, Flatten,
    GlobalAvgPool2D, GlobalMaxPool2D, Layer, LeakyReLU, MaxPool2D, Parameter, PReLU, ReLU,
    Residual, Sequential, Sigmoid, Softplus, Tanh)
from fastml.nn.losses import CrossEntropyLoss, HingeLoss, L1Loss, MSELoss  # noqa: E402
from fastml.nn.optim import SGD, Adam, CosineLR, StepLR  # noqa: E402
from fastml.nn.trainer import EarlyStopping, StopTraining, Trainer, gradient_check  # noqa: E402
from fastml.nn.models import lenet5, mlp  # noqa: E402
from fastml.nn.estimator import NeuralNetClassifier  # noqa: E402

__all__ += [
    "AvgPool2D", "BatchNorm", "Concat", "Conv2D", "ConvTranspose2D", "Dense", "Dropout",
    "ELU", "Flatten", "GlobalAvgPool2D", "GlobalMaxPool2D", "Layer", "LeakyReLU",
    "MaxPool2D", "Parameter", "PReLU", "ReLU", "Residual", "Sequential", "Sigmoid",
    "Softplus", "Tanh", "CrossEntropyLoss", "HingeLoss", "L1Loss", "MSELoss", "SGD", "Adam",
    "CosineLR", "StepLR", "EarlyStopping", "StopTraining", "Trainer", "gradient_check",
    "lenet5", "mlp", "NeuralNetClassifier",
]
