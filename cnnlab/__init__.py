"""cnnlab: the helper package behind the course on convolutional architectures and their cost.

Modules are imported on demand (``from cnnlab import data``) so that importing the package
stays cheap for the grader and the release tool.
"""

__version__ = "0.1.0"
