# The two commands of the README. Both install everything first (skipping what is already there).
.PHONY: install demo test lint

install:
	bash scripts/install.sh

demo: install
	.venv/bin/listenloop demo

test: install
	.venv/bin/python -m pytest -q

lint:
	.venv/bin/ruff check src tests
