"""Offline interview tutor: Markdown notes -> cards -> Chroma -> answers and grades."""
