"""The catalogue of broken inputs (see catalogue.py and README.md in this folder)."""
