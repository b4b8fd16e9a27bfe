from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from surveys.models import Person, Role, Team


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")
    parent = None


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}@example.com")
    email = factory.SelfAttribute("username")
    password = factory.django.Password("pw")


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    name = factory.Faker("name")
    team = factory.SubFactory(TeamFactory)
    role = Role.ENGINEER
    user = factory.SubFactory(UserFactory, username=factory.SelfAttribute("..email"))
