"""An executed notebook as an HTML page that renders its maths and widgets with no network.

nbconvert's own HTML asks three CDNs for JavaScript (require.js and MathJax from cdnjs, the
widget renderer from unpkg), so offline the widget area stays blank and the TeX shows as source.
:func:`export_html` writes the page with the same ``lab`` look, but every script it loads is a
relative URL into a ``vendor/`` folder it copies beside the page:

* ``vendor/require.js`` (requirejs 2.3.8) and ``vendor/html-manager/embed-amd.js``
  (``@jupyter-widgets/html-manager`` 1.0.15): draw every widget from the widget state saved in
  the notebook (``nb.metadata.widgets``, which nbclient writes when it executes a notebook),
  with no kernel: the attention explorer answers hovers and clicks in the page; an ipywidgets
  control shows its saved value, and a Python callback has nothing to run.
* ``vendor/anywidget.js``: anywidget's front end, copied from the installed ``anywidget``
  package, so it matches the Python side that saved the state; ``require.config`` points the
  module name ``anywidget`` at it (the renderer would otherwise fetch it from jsdelivr).
* ``vendor/mathjax/`` (MathJax 3.2.2, ``tex-chtml-full.js`` and its fonts): the maths of the
  Markdown cells, with the delimiters JupyterLab uses (``$...$``, ``$$...$$``, ``\\(...\\)``,
  ``\\[...\\]``); ipywidgets' labels call MathJax 2's ``MathJax.Hub.Queue``, which the page
  answers with MathJax 3. A Mermaid diagram is left as its source (its library is not shipped).

The vendored files, their versions, sources and licences are listed in
``course_lib/widgets/static/vendor/README.md``. Pages exported to one folder share its
``vendor/`` folder; a page moved elsewhere needs the folder beside it.
"""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

__all__ = ["VENDOR", "export_html", "copy_vendor"]

VENDOR = Path(__file__).resolve().parent / "widgets" / "static" / "vendor"
"""The vendored JavaScript, inside the package (see its README.md)."""

_TEMPLATE = r"""{%- extends 'lab/index.html.j2' -%}

{%- block html_head_js_requirejs -%}
<script src="vendor/require.js"></script>
<script>require.config({paths: {anywidget: "vendor/anywidget"}});</script>
{%- endblock html_head_js_requirejs -%}

{%- block html_head_js_mathjax -%}
<script>
window.MathJax = {
  tex: {
    inlineMath: [["$", "$"], ["\\(", "\\)"]],
    displayMath: [["$$", "$$"], ["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
    tags: "ams",
  },
  options: {ignoreHtmlClass: "tex2jax_ignore", processHtmlClass: "tex2jax_process"},
};
</script>
<script src="vendor/mathjax/tex-chtml-full.js"></script>
<script>
// ipywidgets typesets a widget's label with MathJax 2's MathJax.Hub.Queue: answer with MathJax 3
if (window.MathJax && MathJax.startup) {
  MathJax.Hub = {Queue: function (job) {
    var el = Array.isArray(job) ? job[2] : undefined;
    MathJax.startup.promise = MathJax.startup.promise.then(function () {
      return MathJax.typesetPromise(el ? [el] : undefined);
    });
  }};
}
</script>
{%- endblock html_head_js_mathjax -%}

{%- block html_head_js_mermaidjs -%}
{%- endblock html_head_js_mermaidjs -%}
"""


def copy_vendor(folder) -> Path:
    """Copy the vendored files, and anywidget's front end, into ``folder`` (made if missing);
    files already there and identical are left alone. Returns ``folder``."""
    folder = Path(folder)
    sources = [
        (p, folder / p.relative_to(VENDOR))
        for p in sorted(VENDOR.rglob("*"))
        if p.is_file() and p.name != "README.md"
    ]
    sources.append((_anywidget_js(), folder / "anywidget.js"))
    for src, dst in sources:
        if dst.exists() and filecmp.cmp(src, dst, shallow=False):
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    return folder


def export_html(nb, out_path) -> Path:
    """Write ``nb`` (a notebook node, or the path of a notebook) as HTML to ``out_path``, and
    copy the ``vendor/`` folder its scripts load beside it. Returns ``out_path``.

    Execute the notebook first (``nbclient``, ``course run``) for widgets to render: the page
    draws them from the widget state saved in the notebook's metadata."""
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    if not isinstance(nb, nbformat.NotebookNode):
        nb = nbformat.read(_check_notebook_path(nb), as_version=4)
    out_path = Path(out_path)
    _check_out_path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[jinja2.DictLoader({"course_offline.html.j2": _TEMPLATE})],
        template_file="course_offline.html.j2",
        widget_renderer_url="vendor/html-manager/embed-amd.js",
    )
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": out_path.stem}})
    copy_vendor(out_path.parent / "vendor")
    out_path.write_text(body, encoding="utf-8")
    return out_path


def _anywidget_js() -> Path:
    import anywidget

    path = Path(anywidget.__file__).parent / "nbextension" / "index.js"
    if not path.is_file():
        raise FileNotFoundError(
            f"anywidget {anywidget.__version__} has no {path.name} in its nbextension folder: "
            "install the version pyproject.toml pins (pip install -e .)"
        )
    return path


def _check_notebook_path(path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no notebook at {path}: pass a notebook node or an .ipynb path")
    return path


def _check_out_path(out_path: Path) -> None:
    if out_path.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"out_path should end in .html, got {out_path.name!r}")
    if out_path.is_dir():
        raise IsADirectoryError(f"{out_path} is a folder: pass the path of the .html file")
