"""Start the web UI: `python app.py` serves on TUTOR_HOST:TUTOR_PORT (127.0.0.1:7860).

The UI itself is the `tutor.ui` package (one module per tab); see README.
"""
import sys

from tutor.ui.app import main

if __name__ == "__main__":
    sys.exit(main())
