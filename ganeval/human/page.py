"""The study page: index.html, one file holding the images (PNG data: URIs), the script and the style.

The page knows the study id and, per trial in order, an image id and its picture: nothing that says which images
are real (that is key.json, which the page never loads). Its Content-Security-Policy allows only inline script and
style and data: images, so the browser itself refuses any request the page might make. `page_images` reads the
pictures back, so that scoring can check key.json's SHA256 against what the raters were shown.
"""
from __future__ import annotations

import base64
import binascii
import json
from importlib import resources

from ..errors import InputError

PAGE_FILE = "index.html"
STUDY_MARK = "/*STUDY*/"  # where the template takes the study's JSON
_OPEN = '<script type="application/json" id="study">'
_PNG_PREFIX = "data:image/png;base64,"


def render_page(study_id: str, trials: list[tuple[str, bytes]]) -> str:
    """index.html for `trials`, (image id, PNG bytes) in the order the rater sees them."""
    template = resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")
    study = {"study_id": study_id,
             "trials": [{"id": image_id, "src": _PNG_PREFIX + base64.b64encode(png).decode("ascii")}
                        for image_id, png in trials]}
    # '</' would end the script element early; JSON reads '<\/' as '</'
    text = json.dumps(study, separators=(",", ":")).replace("</", "<\\/")
    return template.replace(STUDY_MARK, text, 1)


def page_images(html: str, where: str) -> tuple[str, dict[str, bytes]]:
    """(study id, {image id: PNG bytes}) embedded in a study page; `where` names the file in errors."""
    start = html.find(_OPEN)
    end = html.find("</script>", start)
    if start < 0 or end < 0:
        raise InputError(f"{where}: not a ganeval study page (no embedded study)")
    try:
        study = json.loads(html[start + len(_OPEN):end])
        images = {trial["id"]: _png(trial["src"]) for trial in study["trials"]}
        if len(images) != len(study["trials"]):
            raise ValueError("an image id appears twice")
        return study["study_id"], images
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise InputError(f"{where}: the embedded study is damaged ({type(exc).__name__}: {exc})") from exc


def _png(source: str) -> bytes:
    if not source.startswith(_PNG_PREFIX):
        raise ValueError("an image is not a PNG data: URI")
    return base64.b64decode(source[len(_PNG_PREFIX):], validate=True)
