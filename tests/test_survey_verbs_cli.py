"""`surveykit estimate --stat proportion|quantile` and `surveykit crosstab` (issue 16) against R's fixtures."""

import io

import pandas as pd
import pytest

from surveykit.cli import main

from .test_survey_verbs import VF, api_data, close

DESIGN = ["--strata", "stratum", "--psu", "dnum", "--psu", "snum", "--fpc", "N1", "--fpc", "fpc2"]


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("verbs") / "strat2.csv"
    api_data().to_csv(path, index=False)
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_estimate_proportion_with_success_codes_matches_svyciprop(capsys, data_csv):
    code, out, err = run(capsys, "estimate", data_csv, "--var", "sch.wide", "--stat", "proportion", "--success", "Yes",
                         "--method", "likelihood", "--by", "stype", *DESIGN)
    assert code == 0, err
    got = pd.read_csv(io.StringIO(out))
    assert list(got.columns) == ["stype", "variable", "estimate", "se", "ci_low", "ci_high", "n"]
    exp = pd.read_csv(VF / "verbs_proportion.csv", keep_default_na=False)
    exp = exp[(exp.case == "strat2") & (exp.variable == "yes") & (exp.method == "likelihood") & (exp.stype != "")
              & (exp.df_arg == "degf")]
    m = got.merge(exp, on="stype", suffixes=("", "_r"))
    assert len(m) == 3
    for c in ("estimate", "se", "ci_low", "ci_high"):
        assert all(close(a, b) for a, b in zip(m[c], m[c + "_r"].astype(float))), c


def test_estimate_quantile_matches_svyquantile(capsys, data_csv):
    code, out, err = run(capsys, "estimate", data_csv, "--var", "enroll", "--stat", "quantile", "--quantiles", "0.25",
                         "0.5", "0.9", *DESIGN)
    assert code == 0, err
    got = pd.read_csv(io.StringIO(out))
    exp = pd.read_csv(VF / "verbs_quantile.csv", keep_default_na=False)
    exp = exp[(exp.case == "strat2") & (exp.variable == "enroll") & (exp.stype == "") & (exp.df_arg == "degf")]
    assert got["quantile"].tolist() == exp["quantile"].tolist()
    for c in ("estimate", "se", "ci_low", "ci_high"):
        assert all(close(a, b) for a, b in zip(got[c], exp[c].astype(float))), c


def test_crosstab_prints_the_table_then_the_test(capsys, data_csv):
    code, out, err = run(capsys, "crosstab", data_csv, "stype", "sch.wide", "--by", "meals50", *DESIGN)
    assert code == 0, err
    table_part, test_part = out.split("\n\n")
    table = pd.read_csv(io.StringIO(table_part))
    test = pd.read_csv(io.StringIO(test_part))
    assert list(table.columns) == ["meals50", "stype", "sch.wide", "count", "count_se", "proportion", "proportion_se",
                                   "n"]
    assert list(test.columns) == ["meals50", "statistic", "ndf", "ddf", "p_value"]
    r_tab = pd.read_csv(VF / "verbs_table.csv", keep_default_na=False)
    r_tab = r_tab[(r_tab.case == "strat2") & (r_tab.meals50 != "")]
    m = table.merge(r_tab, on=["meals50", "stype", "sch.wide"], suffixes=("", "_r"))
    assert len(m) == len(table) == 12
    assert all(close(a, b) for a, b in zip(m["count_se"], m["count_se_r"].astype(float)))
    r_chi = pd.read_csv(VF / "verbs_chisq.csv", keep_default_na=False)
    r_chi = r_chi[(r_chi.case == "strat2") & (r_chi.col == "sch.wide") & (r_chi.meals50 != "")]
    m = test.merge(r_chi, on="meals50")
    assert len(m) == 2 and all(close(a, b) for a, b in zip(m.statistic, m.F.astype(float)))
    assert all(close(a, b) for a, b in zip(m.p_value, m.F_p.astype(float)))


def test_crosstab_first_order_test_to_a_file(capsys, data_csv, tmp_path):
    code, out, err = run(capsys, "crosstab", data_csv, "stype", "awards", "--statistic", "Chisq", "--test-out",
                         tmp_path / "test.csv", *DESIGN)
    assert code == 0, err
    test = pd.read_csv(tmp_path / "test.csv")
    r = pd.read_csv(VF / "verbs_chisq.csv", keep_default_na=False)
    r = r[(r.case == "strat2") & (r.col == "awards") & (r.meals50 == "")].iloc[0]
    assert close(test.statistic[0], float(r.chisq)) and close(test.p_value[0], float(r.chisq_p))
    assert len(pd.read_csv(io.StringIO(out))) == 6  # the table alone on standard output


@pytest.mark.parametrize("argv, pattern", [
    (["estimate", "{data}", "--var", "api00", "--stat", "proportion"], "column 'api00': a proportion needs a 0/1"),
    (["crosstab", "{data}", "stype", "nowhere"], "no column 'nowhere'"),
    (["estimate", "{data}", "--var", "api00", "--stat", "quantile", "--quantiles", "2"], "between 0 and 1"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, data_csv, argv, pattern):
    code, out, err = run(capsys, *[a.format(data=data_csv) for a in argv], *DESIGN)
    assert code == 2 and pattern in err and "Traceback" not in err and err.count("\n") == 1
