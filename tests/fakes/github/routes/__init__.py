"""One route table per API area; :data:`ALL` is every route the fake serves, in matching order."""

from tests.fakes.github.routes import apps, checks, graphql, orgs, pulls, repos

TABLES = (apps.ROUTES, orgs.ROUTES, repos.ROUTES, checks.ROUTES, pulls.ROUTES, graphql.ROUTES)
ALL = tuple(route for table in TABLES for route in table)
