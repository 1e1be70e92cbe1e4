"""surveykit: rigorous, reproducible evaluation reports from satisfaction surveys and administrative indicators.

Start here::

    import surveykit as sk
    q = sk.load_questionnaire("questionnaires/ip_protection_satisfaction.yaml")
    d = sk.Design(df, weights="weight", strata="district", psu="street", fpc="n_streets")
    sk.score(q, d, by=["district"])                  # tidy table
    sk.score_estimates(q, d, by=["district"])        # the same with influence functions: .vcov(), .contrast()
"""

from importlib.metadata import PackageNotFoundError, version

from .errors import InputError, SpecError
from .plan import plan_sample
from .scoring import score, score_estimates
from .spec import load_questionnaire
from .survey import Design

try:
    __version__ = version("surveykit")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"

from .workflow import study_plan_parameters as plan_parameters  # noqa: E402  (the workflow reads __version__)

__all__ = ["Design", "InputError", "SpecError", "load_questionnaire", "plan_parameters", "plan_sample", "score",
           "score_estimates", "__version__"]
