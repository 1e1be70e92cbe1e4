"""Packaging beyond pyproject.toml: the repository's notebooks/ and questionnaires/ folders ship inside the package
as ``surveykit.notebooks`` and ``surveykit.questionnaires`` (read with importlib.resources)."""

from setuptools import find_packages, setup

MAPPED = {"surveykit.notebooks": "notebooks", "surveykit.questionnaires": "questionnaires"}

setup(packages=find_packages(include=["surveykit", "surveykit.*"]) + list(MAPPED), package_dir=MAPPED)
