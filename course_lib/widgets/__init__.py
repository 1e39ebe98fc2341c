"""Interactive explorers (ipywidgets), one module per lesson. Each has a static fallback figure.

ipywidgets and matplotlib are imported inside functions, so importing course_lib stays headless.
"""
