"""pytest's root conftest: being here puts the project root first on ``sys.path``.

So ``plugins`` is the shipped package ``plugins/`` and never ``tests/plugins`` (a folder of test
modules without ``__init__.py``, which Python would otherwise take as a namespace package when the
project is installed in editable mode and the root itself is not on the path).
"""
