"""Sphinx configuration of the API reference, generated from the docstrings.

Build it with ``sphinx-build -W -b html docs/reference build/reference``; the test suite
does the same (tests/test_reference.py), so a docstring that breaks the build fails CI.
"""

from importlib import metadata

project = "aiwatermark"
release = metadata.version("aiwatermark")
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon"]
napoleon_google_docstring = True
napoleon_numpy_docstring = False
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# Types in annotations are documented where they are defined, not expanded in every signature.
autodoc_type_aliases = {"ImageSource": "aiwatermark.imageio.ImageSource"}
html_theme = "alabaster"
exclude_patterns: list[str] = []
