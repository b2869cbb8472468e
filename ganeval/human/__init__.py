"""Human evaluation: a blind real-or-generated study in the browser, scored like HYPE-infinity (Zhou et al. 2019).

`make_study` (`ganeval human make`) writes a study folder: index.html, which raters open from disk (every image
embedded, no network), and key.json, which says which image is which and is never loaded by the page.
`score_study` (`ganeval human score`) reads the raters' answers.json files and gives the HYPE rates per rater and
pooled, with bootstrap intervals over raters and images, as a score record for compare, report and gate.

    study.py    the study folder            sources.py  images from any source, checks, PNG
    page.py     index.html (page.html)      key.py      key.json, checked against the page
    answers.py  answers.json, checked       scoring.py  the HYPE rates and their bootstrap (numpy only)
    results.py  per rater and pooled rates, images.csv, the record and where it goes

>>> from ganeval.human import StudyRequest, make_study, score_study
>>> key = make_study(StudyRequest("runs/fmnist-dcgan", "fashion-mnist:test", num_images=100), "study")  # doctest: +SKIP
>>> score_study("study", ["answers/ann.json"]).pooled["hype_inf"]                                       # doctest: +SKIP
"""
from __future__ import annotations

from .key import StudyKey, read_key
from .results import StudyScore, score_study, summary_text, write_results
from .study import StudyRequest, make_study

__all__ = ["StudyKey", "StudyRequest", "StudyScore", "make_study", "read_key", "score_study", "summary_text",
           "write_results"]
