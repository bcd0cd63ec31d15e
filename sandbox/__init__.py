"""A local AWS (moto server): deploy a rendered stack's data plane to it, and run the incident drill."""
