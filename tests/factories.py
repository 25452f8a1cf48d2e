"""factory-boy factories. Releases and requests are made through the services so their
history is real; plain reference data is made directly."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from compliance import services
from compliance.models import Agency, Partner


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@lab.example")
    password = factory.django.Password("pw-for-tests")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            # get_or_create: a transaction=True test's flush also empties the role groups
            # that the 0002_roles data migration made.
            self.groups.add(Group.objects.get_or_create(name=extracted)[0])


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"AG{n}")
    name = factory.LazyAttribute(lambda a: f"Agency {a.code}")
    contact_email = factory.LazyAttribute(lambda a: f"{a.code.lower()}@gov.example")


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"Partner {n}")
    country = "US"
    contact_email = factory.Sequence(lambda n: f"p{n}@partner.example")


def make_release(actor, *, slug="frontier-1", agencies=None, **kwargs):
    """A draft release made through the service (so it has real history)."""
    return services.create_release(
        actor=actor,
        slug=slug,
        name=kwargs.pop("name", slug.replace("-", " ").title()),
        required_agencies=agencies,
        **kwargs,
    )
