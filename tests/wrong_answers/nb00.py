def accuracy_counts(logits, labels):
    """Returns the number right instead of the percentage."""
    return int((logits.argmax(dim=1) == labels).sum())


def accuracy_wrong_dim(logits, labels):
    """Takes the argmax over the batch instead of over the classes."""
    return 100 * (logits.argmax(dim=0)[: len(labels)] == labels[: logits.shape[1]]).float().mean().item()


def accuracy_fraction(logits, labels):
    """A fraction in [0, 1], not a percentage."""
    return (logits.argmax(dim=1) == labels).float().mean().item()


WRONG = {"00.accuracy": [accuracy_counts, accuracy_wrong_dim, accuracy_fraction]}
