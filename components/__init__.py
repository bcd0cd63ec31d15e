"""Pulumi components of the CIS file pipeline, one concern per module."""
