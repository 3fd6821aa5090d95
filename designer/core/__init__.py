"""Framework-free core of the designer app (no Django, Celery or Channels).

Entry point: `designer.core.pipeline.design(parents, mode, config) -> DesignerResult`.
"""
