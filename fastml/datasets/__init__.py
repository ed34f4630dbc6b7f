"""Loaders for the standard files of MNIST (IDX) and the SMS Spam Collection."""
from fastml.datasets._loaders import find_data_home, load_mnist, load_sms_spam

__all__ = ["find_data_home", "load_mnist", "load_sms_spam"]
