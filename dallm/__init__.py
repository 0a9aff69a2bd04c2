__version__ = "0.1.0"

# The names other code imports most, from the package root: `from dallm import Augmenter`. They load on first use
# (PEP 562), so `import dallm` stays light (no torch, no llama.cpp) until one is asked for.
_LAZY = {"Augmenter": "augmenter", "MultiLabelModel": "models", "evaluate_feature_sets": "evaluate",
         "get_llm": "llm", "get_settings": "config", "synthesize": "synth"}
__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name not in _LAZY: raise AttributeError(f"module 'dallm' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]: return sorted(set(globals()) | set(_LAZY))
