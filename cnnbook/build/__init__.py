"""The tools that build and check the book; no chapter imports them.

* :mod:`cnnbook.build.notebooks`: writes the ``.ipynb`` beside every chapter for Colab and Binder
  (with an install cell): ``python -m cnnbook notebooks``.
* :mod:`cnnbook.build.myst`: rewrites a chapter's MyST markdown as Markdown that Jupyter renders
  (glue, citations, admonitions, cross-references), for those notebooks.
* :mod:`cnnbook.build.bookconfig`: what ``_config.yml`` and ``_toc.yml`` say (the repository,
  the website, the bibliography, the chapters in reading order).
* :mod:`cnnbook.build.sphinxext`: the Sphinx extension named in ``_config.yml``; lists the pages
  built with untrained networks, re-runs them when the weights arrive, and puts what each page
  costs to run under its title.
* :mod:`cnnbook.build.sitecheck`: checks a built site (links, anchors, images and alt text, error
  output, page weight): ``python -m cnnbook check-site``.

What the chapters call lives one level up, in :mod:`cnnbook` itself.
"""
