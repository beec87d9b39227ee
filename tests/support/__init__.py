"""Helpers and fixtures shared by the test modules (test modules never import each other)."""
