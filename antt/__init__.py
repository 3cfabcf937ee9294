"""antt: live national statistics backend for Viet Nam's commune-level police."""

__version__ = "0.1.0"
