"""Interactive explorers (ipywidgets), one module per idea, named as the idea's module. Each has a
static fallback figure in ``course_lib.viz`` (the same module name), and draws with it.

ipywidgets and matplotlib are imported inside functions, so importing course_lib stays headless.
"""
