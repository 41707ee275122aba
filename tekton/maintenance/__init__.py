"""``peribolos-maintain``: the CronJobs that keep the service converged and its namespace tidy.

- ``drift-repair`` (:mod:`.drift`): a sync TaskRun of every active installation's config repository at its
  default branch head, made from the rendered TriggerTemplate ``peribolos-sync`` exactly as the
  EventListener makes one, paced under the App's mint budget and GitHub's content-creation limits;
- ``prune`` (:mod:`.prune`): deletes finished TaskRuns (their Pods go with them) by age and by count per
  org and action, failures kept longer than successes.

Decisions are pure (:mod:`.template`, :mod:`.prune`'s planning, :mod:`.drift`'s ordering); the Tekton
objects are reached through one wrapper (:mod:`.tekton_api`), GitHub through the core's App client.
"""
