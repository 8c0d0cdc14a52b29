"""Architectures: specs (``spec``), presets, the Keras builder, safe file I/O and gradients.

Import the submodules directly; ``convscope.models.spec`` and ``.presets`` do not import
Keras, so validating a spec stays cheap.
"""
