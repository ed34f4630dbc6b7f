"""Data sets: MNIST (IDX files) and the SMS Spam Collection, read from a data home
(:func:`get_data_home`: ``$FASTML_DATA``, else ``~/fastml_data``) and downloaded into it,
checksummed, when missing."""
from fastml.datasets._loaders import get_data_home, load_mnist, load_sms_spam

__all__ = ["get_data_home", "load_mnist", "load_sms_spam"]
