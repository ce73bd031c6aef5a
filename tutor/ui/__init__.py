"""The web UI's pieces that need no Gradio: rendering (render.py) and HTTP middleware (server.py)."""
