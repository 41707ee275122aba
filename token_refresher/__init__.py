"""``peribolos-refresh-tokens``: the CronJob that keeps every installation's token Secret valid."""
