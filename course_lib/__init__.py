"""course_lib: the small shared library that the llm-course lessons build, verify and reuse.

Importing it stays light and headless: matplotlib and ipywidgets are imported only inside the
functions that draw or show something.
"""

__version__ = "0.1.0"
