"""LookGrid: localized photoreal look transfer for VFX shots.

Kept light on purpose: importing ``lookgrid`` must not import torch, OpenImageIO or grpc.
"""

__version__ = "0.1.0"
