"""recipec: a compiler for llama.cpp quantization recipes.

The pipeline as a library (see recipec.api): `lint_recipe`, `compile_recipe`, `render_plan`,
`load_plan`. They are imported on first use, so `import recipec` stays cheap.
"""

from recipec.version import __version__

_API = ("lint_recipe", "compile_recipe", "render_plan", "load_plan", "Linted", "Compiled", "Rendered")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from recipec import api

        return getattr(api, name)
    raise AttributeError(f"module 'recipec' has no attribute {name!r}")
