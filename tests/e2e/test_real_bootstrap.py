"""A first config on install, on the real cluster: installation.created -> the install TaskRun's bootstrap
step opens a pull request with the org's export in the fake GitHub -> the dry-run TaskRun on that pull
request runs the real peribolos image and writes nothing -> another install event opens nothing new.

The org is ``Other-Org`` (installation 1002), which no other scenario installs or changes.
"""

from __future__ import annotations

from typing import Any

import pytest

from tekton.steps.bootstrap import BRANCH
from tekton.steps.peribolos_config import check
from tests.e2e import payloads
from tests.e2e.conftest import OTHER_ORG, OTHER_ORG_INSTALLATION_ID
from tests.e2e.pods import by_delivery, step_log, wait_finished, wait_taskruns
from tests.fakes.github import FakeGitHub, FakeTeam
from tests.infra.product import Product

pytestmark = pytest.mark.e2e

REPO = f"{OTHER_ORG}/.github"
ORG_WRITES = ("PUT", "PATCH", "DELETE", "POST")


def _run(product: Product, event: str, payload: dict[str, Any], task: str) -> Any:
    delivery, response = product.send_webhook(event, payload)
    assert response.status_code == 202, response.text
    (taskrun,) = wait_taskruns(product.cluster, product.namespace, by_delivery(delivery), timeout=60)
    assert taskrun["spec"]["taskRef"]["name"] == task
    return wait_finished(product.cluster, product.namespace, taskrun["metadata"]["name"], timeout=180)


def _org_writes(github: FakeGitHub) -> int:
    return len([r for r in github.requests if r.method in ORG_WRITES and r.path.startswith("/orgs/")])


def test_install_opens_the_bootstrap_pull_request_and_merging_it_would_change_nothing(
    product: Product, cluster_github: FakeGitHub
) -> None:
    # The org accepted the App's permissions (the manifest's install row asks for these).
    cluster_github.installations[OTHER_ORG_INSTALLATION_ID].permissions.update(
        contents="write", pull_requests="write"
    )
    cluster_github.add_org(
        OTHER_ORG,
        admins=["alice", "bob"],
        members=["carol", "dave"],
        teams=[
            FakeTeam(31, "sig leads", "sig-leads", "Leads", maintainers={"alice"}, members={"carol"},
                     repos={"website": "push"}),
            FakeTeam(32, "docs", "docs", parent="sig-leads", members={"dave"}),
            FakeTeam(33, "security", "security", privacy="secret", maintainers={"bob"}),
        ],
    )
    cluster_github.push_commit(REPO, {"README.md": "# Other-Org\n"})
    base = cluster_github.head_sha(REPO)

    created = payloads.installation("created", OTHER_ORG_INSTALLATION_ID, OTHER_ORG)
    finished = _run(product, "installation", created, "peribolos-install")
    log = step_log(product.cluster, product.namespace, finished, "bootstrap")
    assert finished.succeeded, (finished.reason, log[-3000:])
    assert finished.exit_codes == {"install": 0, "bootstrap": 0}
    (pull,) = cluster_github.pulls(REPO)
    assert (pull["head"]["ref"], pull["base"]["ref"], pull["state"]) == (BRANCH, "main", "open")
    assert '"outcome": "opened"' in log and pull["html_url"] in log
    assert not any(token in log for token in cluster_github.state.tokens), "no token in the step's log"
    content = cluster_github.file_at(REPO, BRANCH, "peribolos.yaml")
    assert content is not None and check(content, org=OTHER_ORG, min_admins=2).problems == ()
    assert b"sig leads:" in content and b"security:" in content
    assert cluster_github.head_sha(REPO) == base, "nothing pushed to the default branch"

    # The dry-run check the pull request gets: the real peribolos, in its image, changes nothing.
    writes_before = _org_writes(cluster_github)
    opened = payloads.pull_request(OTHER_ORG_INSTALLATION_ID, OTHER_ORG, head_sha=pull["head"]["sha"])
    dry_run = _run(product, "pull_request", opened, "peribolos-dry-run")
    assert dry_run.exit_codes["peribolos"] == 0, step_log(product.cluster, product.namespace, dry_run,
                                                          "peribolos")[-3000:]
    runs = [r for r in cluster_github.check_runs if r["head_sha"] == pull["head"]["sha"]]
    assert [(r["name"], r["conclusion"]) for r in runs] == [("peribolos/dry-run", "success")]
    assert _org_writes(cluster_github) == writes_before

    # Never twice: the org accepting new permissions runs install again; the pull request is open.
    again = payloads.installation("new_permissions_accepted", OTHER_ORG_INSTALLATION_ID, OTHER_ORG)
    finished = _run(product, "installation", again, "peribolos-install")
    assert finished.exit_codes == {"install": 0, "bootstrap": 0}
    assert '"outcome": "pull-open"' in step_log(product.cluster, product.namespace, finished, "bootstrap")
    assert len(cluster_github.pulls(REPO)) == 1
