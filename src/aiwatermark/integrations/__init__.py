"""Adapters for the systems that produce and process images at scale.

Each adapter is its own module, imported on demand, so ``import aiwatermark`` never pulls in
the system it adapts to: :mod:`aiwatermark.integrations.diffusers` (a drop-in watermarker
for diffusers pipelines; torch optional) and :mod:`aiwatermark.integrations.ray` (marking
and verifying Ray Datasets; ``pip install 'aiwatermark[ray]'``).

Example:
    >>> from aiwatermark.integrations.diffusers import AiWatermarker
    >>> AiWatermarker(store=False, signer=False)
    AiWatermarker(label=None, key=public, store=False, signer=False)
"""
