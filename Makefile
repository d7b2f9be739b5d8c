# The two commands of the README. Both install everything first (skipping what is already there).
.PHONY: install demo test lint

install:
	bash scripts/install.sh

demo: install
	.venv/bin/listenloop demo

test: install
	.venv/bin/python -m pytest -q

lint: install
	.venv/bin/ruff check src tests
	.venv/bin/lint-imports  # the layers and no cycles (.importlinter, docs/architecture.md)
