"""Backbone adaptation: search space, weight mapping, search and export."""
