"""Package data: the default questionnaire, quality rules, indicator framework and targets (importlib.resources)."""
