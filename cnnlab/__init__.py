"""cnnlab: the helper package behind the course on convolutional architectures and their cost.

Modules are imported on demand (``from cnnlab import data``) so that importing the package
stays cheap for the grader and the release tool.
"""

import logging

__version__ = "0.1.0"


class _NoGpuNotice(logging.Filter):
    """Drop torch's "No CUDA runtime is found, using CUDA_HOME=..." notice.

    ``torch.utils.cpp_extension`` logs it at import (``torch.utils.benchmark`` imports it) on any
    machine with a CUDA toolkit but no GPU: a learner cannot act on it, and it would open notebooks
    with a red box. Nothing else that module logs is filtered; :mod:`cnnlab.toolchain` says what
    this machine can build and run.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("No CUDA runtime is found")


logging.getLogger("torch.utils.cpp_extension").addFilter(_NoGpuNotice())
