import factory
from django.contrib.auth import get_user_model

from annotators.models import Annotator, Backend, Membership, Role
from labeling.models import Item, Project


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests")


class AnnotatorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Annotator

    user = factory.SubFactory(UserFactory)
    backend = Backend.INTERNAL
    display_name = factory.LazyAttribute(lambda a: a.user.username)


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    schema_kind = "single"
    choices = ["pos", "neg", "neu"]
    rule_kind = "k_of_n"
    agree_k = 2
    min_answers = 2
    max_answers = 3


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    annotator = factory.SubFactory(AnnotatorFactory)
    role = Role.ANNOTATOR


class ItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Item

    project = factory.SubFactory(ProjectFactory)
    external_id = factory.Sequence(lambda n: f"item-{n}")
    data = factory.LazyAttribute(lambda i: {"text": f"text of {i.external_id}"})
