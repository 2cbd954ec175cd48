from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    SUPPORT_AGENT = "support_agent", "Support agent"
    ANALYST = "analyst", "Analyst"
    MERCHANDISER = "merchandiser", "Merchandiser"
    ML_ADMIN = "ml_admin", "ML admin"


class User(AbstractUser):
    """A person who signs in. Roles are Django groups named after `Role` values."""

    display_name = models.CharField(max_length=150, blank=True)

    def __str__(self) -> str:
        return self.display_name or self.get_username()
