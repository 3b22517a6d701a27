"""LOCAL DEVELOPMENT STAND-IN, not committed: the real page is on branch app."""
import streamlit as st

st.title("问卷 / Survey")
