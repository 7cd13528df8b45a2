"""Build of the optional compiled parser (the rest of the project is configured in pyproject.toml).

``honeyscope.ingest._fastparse`` is optional: where no C compiler is available the install still
succeeds and the parser runs its general (polars) path alone.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "honeyscope.ingest._fastparse",
            ["src/honeyscope/ingest/_fastparse.c"],
            optional=True,
        )
    ]
)
