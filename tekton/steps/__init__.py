"""``peribolos-step``: the commands the Tekton Tasks run (install, uninstall, ensure-token, fetch-config,
report). ``cli`` checks options and hands off; ``tokens``, ``config`` and ``report`` hold the work, with
time, GitHub and the token store passed in."""
