"""Reformflow's domain models, one module per concern; import from here."""

from .catalogue import Aspect, CatalogueSource, Measure, StepKind, StepRole, StepTemplate
from .organisation import Department, LeaderRole, Organisation, OrganisationLevel, Profile

__all__ = [
    "Aspect",
    "CatalogueSource",
    "Department",
    "LeaderRole",
    "Measure",
    "Organisation",
    "OrganisationLevel",
    "Profile",
    "StepKind",
    "StepRole",
    "StepTemplate",
]
