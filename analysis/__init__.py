"""Scoring, weighting and design-based estimation of financial-literacy survey responses."""
