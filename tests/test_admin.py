"""Every model is in the admin, and its list page renders with its columns and filters."""

import pytest
from django.apps import apps
from django.contrib import admin

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_every_domain_model_is_registered():
    for app in ("labeling", "annotators"):
        for model in apps.get_app_config(app).get_models():
            assert model in admin.site._registry, f"{model.__name__} is not in the admin"


def test_admin_list_pages_render(client, project):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    for app in ("labeling", "annotators"):
        for model in apps.get_app_config(app).get_models():
            url = f"/admin/{app}/{model._meta.model_name}/"
            assert client.get(url).status_code == 200, url
