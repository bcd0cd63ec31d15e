"""Audit a deployed pipeline (AWS, or moto via AWS_ENDPOINT_URL) against the policy pack and the stack."""
