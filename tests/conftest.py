from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(scope="session")
def api():
    """R's api data (California schools) and the designs of ../shared/reference/make_reference.R."""
    import surveykit as sk
    f = FIXTURES / "api"
    strat = pd.read_csv(f / "apistrat.csv")
    clus1 = pd.read_csv(f / "apiclus1.csv")
    clus2 = pd.read_csv(f / "apiclus2.csv")
    return {
        "dstrat": sk.Design(strat, weights="pw", strata="stype", fpc="fpc"),
        "dclus1": sk.Design(clus1, weights="pw", psu="dnum", fpc="fpc"),
        "dclus2": sk.Design(clus2, psu=["dnum", "snum"], fpc=["fpc1", "fpc2"]),
    }


def demo_aliases_path():
    """The demo study's spellings of Shanghai's districts (no city is built into surveykit)."""
    from surveykit.resources import demo_file
    return demo_file("shanghai/unit_aliases.yaml")
