"""cases: event-sourced support cases and billing accounts for CSP partners."""

__version__ = "0.1.0"
