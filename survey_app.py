"""Streamlit entry point (``streamlit run survey_app.py``): routing only, see app_pages/."""

from app_pages.navigation import run

run()
