"""Widgets shared by the Training tab and the exploration panels (they only draw)."""
