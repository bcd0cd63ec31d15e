"""The pack's rules, one module per concern, each a short query over `pipeline_policies.analysis`."""
