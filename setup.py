"""kerasbatch: measure what batch size does to Keras training, then choose it."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "kerasbatch" / "_version.py").read_text()).group(1)

setup(
    name="kerasbatch",
    version=VERSION,
    description="Measure what batch size does to Keras training: sweep, tune, suggest, export.",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["kerasbatch", "kerasbatch.*"]),
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3.0",
        # kerasbatch/tuner_internals.py reaches into KerasTuner's private modules (the chief/worker service,
        # the oracle's saved state): only releases that tests/test_tuner_internals.py and tests/test_tune.py
        # passed on (1.4.6, 1.4.7, 1.4.8); a new one is added here once they pass on it.
        "keras-tuner>=1.4.6,<1.5",
        "tensorboard>=2.16",
        "tensorflow-datasets>=4.9",
        "click>=8.1",
        "cloudpickle>=2.0",
        "rich>=13.0",
        "pandas>=2.0",
        "pyyaml>=6.0",
        "matplotlib>=3.7",
        "scikit-learn>=1.3",
        "tabulate>=0.9",
        "jinja2>=3.1",
        "mnist1d>=0.0.2",
        "platformdirs>=3.0",
    ],
    # Two test processes: most of a test's time is Python and tracing on one core, so two share the
    # machine's two cores (the suite: 5 min 55 s against 11 min 29 s in one process).
    extras_require={"test": ["pytest>=7.4", "pytest-xdist>=3.3"]},
    entry_points={"console_scripts": ["kerasbatch = kerasbatch.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
