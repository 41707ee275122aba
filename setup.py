"""Peribolos as a Service: a Tekton-native GitHub App that manages GitHub organisations as code."""

from pathlib import Path

from setuptools import find_namespace_packages, setup

setup(
    name="peribolos-as-a-service",
    version="0.1.0",
    description="Tekton-native GitHub App that applies an org's peribolos.yaml with peribolos",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    # Namespace discovery, so that generator/templates (data only, no __init__.py) is a package of its own
    # and its templates ship without setuptools' "Package 'generator.templates' is absent" warning.
    packages=find_namespace_packages(
        include=["peribolos_core*", "generator*", "tekton*", "token_refresher*"], exclude=["*.__pycache__"]
    ),
    include_package_data=True,
    package_data={"generator": ["*.yaml"], "generator.templates": ["*.j2"]},
    install_requires=[
        # kubernetes 35.x: the last major before the pydantic-model rewrite (37.x);
        # peribolos_core.kube wraps its errors.
        "kubernetes>=35.0,<36",
        "PyJWT>=2.8,<3",
        "cryptography>=42",
        "requests>=2.31,<3",
        "jinja2>=3.1,<4",
        "pyyaml>=6.0,<7",
        "click>=8.1,<9",
        # generator: values schema checks and the Kubernetes OpenAPI schemas for `validate`.
        "jsonschema>=4.20,<5",
        "kubernetes-validate>=1.31",
        # The interceptor's HTTP server: uvicorn (maintained, widely deployed) on its httptools parser
        # (llhttp); docs/performance.md: 2x http.server's throughput, on par with a hand-written server.
        "uvicorn>=0.30,<1",
        "httptools>=0.6,<1",
        "orjson>=3.9,<4",  # interceptor: parses its 10 KB requests 3x faster than json
        # Metrics in the Prometheus exposition format: the maintained client (escaping, histograms, locking)
        # instead of a hand-written format, and one library for every program that exposes metrics.
        "prometheus_client>=0.20,<1",
    ],
    extras_require={
        "test": [
            "pytest>=8",
            "pytest-timeout>=2.3",
            "hypothesis>=6.100",
            "ruff>=0.6",
            # tests/generator/test_packaging.py builds the sdist and wheel offline with it.
            "setuptools>=75",
        ],
    },
    entry_points={
        "console_scripts": [
            "peribolos-generate=generator.cli:main",
            "peribolos-interceptor=tekton.interceptor.cli:main",
            "peribolos-step=tekton.steps.cli:main",
            "peribolos-refresh-tokens=token_refresher.cli:main",
            "peribolos-maintain=tekton.maintenance.cli:main",
            "peribolos-exporter=tekton.exporter.cli:main",
        ],
    },
)
