"""Classifier model versions known to the database; the files live under the storage dir."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (
        # At most one active version, whatever two admins promote at the same moment.
        Index("uq_model_versions_one_active", "active", unique=True,
              sqlite_where=text("active = 1"), postgresql_where=text("active")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(80), unique=True)
    path: Mapped[str] = mapped_column(Text)
    data_sha256: Mapped[str] = mapped_column(String(64))
    metrics: Mapped[dict] = mapped_column(default=dict)
    labels: Mapped[dict] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Exactly one version is active at a time; the previous ones stay for rollback.
    active: Mapped[bool] = mapped_column(default=False)
    promoted_at: Mapped[datetime | None]
