"""Streamlit pages. With ``survey_app.py``, the only modules that import streamlit."""
