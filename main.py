"""Entry file the Functions Python worker imports (PYTHON_SCRIPT_FILE_NAME=main.py).

The code lives in the `function_app` package; a `function_app.py` file would be shadowed by that
package, so every environment points the worker at this file instead.
"""
from function_app import app  # noqa: F401  (the worker looks up `app` in this module)
