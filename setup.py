"""Packaging for dallm: every dependency is declared once, in settings.ini."""
from configparser import ConfigParser
from pathlib import Path

import setuptools

cfg = ConfigParser(delimiters=["="])
cfg.read(Path(__file__).parent / "settings.ini", encoding="utf-8")
cfg = cfg["DEFAULT"]


def _reqs(key):
    return cfg.get(key, "").split()


extras = {"dev": _reqs("dev_requirements")}
# Optional stacks added by later chapters declare themselves as `extra_<name>` keys.
for key in cfg:
    if key.startswith("extra_"):
        extras[key[len("extra_"):]] = _reqs(key)

setuptools.setup(
    name=cfg["lib_name"],
    version=cfg["version"],
    description=cfg["description"],
    long_description=(Path(__file__).parent / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    author=cfg["author"],
    author_email=cfg["author_email"],
    license="Apache-2.0",
    keywords=cfg["keywords"],
    python_requires=f">={cfg['min_python']}",
    packages=setuptools.find_packages(include=["dallm", "dallm.*"]),
    package_data={"dallm": ["data/*.yaml"]},
    include_package_data=True,
    install_requires=_reqs("requirements"),
    extras_require=extras,
    entry_points={
        "console_scripts": cfg.get("console_scripts", "").split(),
        "nbdev": [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"],
    },
    zip_safe=False,
)
