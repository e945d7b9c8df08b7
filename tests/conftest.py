"""Shared fixtures. Unit tests run Celery tasks eagerly (in-process); the integration tests
switch that off and start a real worker process."""

from __future__ import annotations

import os

import pytest
from rest_framework.test import APIClient

from annotators.models import Role
from annotators.services import membership_set, token_create
from tests.factories import ProjectFactory, UserFactory

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(autouse=True)
def _eager_celery():
    from config.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def lead(db):
    return UserFactory(username="lead")


@pytest.fixture
def annotator_user(db):
    return UserFactory(username="ann")


@pytest.fixture
def outsider(db):
    return UserFactory(username="outsider")


@pytest.fixture
def project(lead, annotator_user):
    project = ProjectFactory()
    membership_set(project=project, user=lead, role=Role.LEAD)
    membership_set(project=project, user=annotator_user, role=Role.ANNOTATOR)
    return project


def client_for(user, **token_kwargs) -> APIClient:
    client = APIClient()
    _, key = token_create(user=user, **token_kwargs)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def lead_client(lead):
    return client_for(lead)


@pytest.fixture
def annotator_client(annotator_user):
    return client_for(annotator_user)


@pytest.fixture
def outsider_client(outsider):
    return client_for(outsider)
