"""Compatibility layers that let other libraries run unmodified beside robustsk.

:func:`patch_modal` makes modAL 0.4.x's learners work with scikit-learn >= 1.8.
"""

from .modal import patch_modal, unpatch_modal

__all__ = ["patch_modal", "unpatch_modal"]
